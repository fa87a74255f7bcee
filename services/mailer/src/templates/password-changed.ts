import type { PasswordChangedEmail } from "@temetro/shared";
import { displayName, readableTime, type RenderedEmail } from "./html.js";
import { renderLinkEmail } from "./link-email.js";

export function renderPasswordChanged(job: PasswordChangedEmail, links: { frontendUrl: string }): RenderedEmail {
  return renderLinkEmail({
    subject: "Your temetro password was changed",
    name: displayName(job.name),
    lead: [
      `The password of your temetro account was changed on ${readableTime(job.changedAt)}.`,
      "If you did not change it, someone else knows your password: reset it now from the sign-in page and tell your clinic's administrator.",
    ],
    url: links.frontendUrl,
    button: "Go to the sign-in page",
  });
}
