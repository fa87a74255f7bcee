import type { AccountLockedEmail } from "@temetro/shared";
import { displayName, readableTime, type RenderedEmail } from "./html.js";
import { renderLinkEmail } from "./link-email.js";

export function renderAccountLocked(job: AccountLockedEmail): RenderedEmail {
  const until = readableTime(job.lockedUntil);
  return renderLinkEmail({
    subject: "Your temetro account is temporarily locked",
    name: displayName(job.name),
    lead: [
      `After several wrong passwords, sign-in to your temetro account is paused until ${until}.`,
      "If these attempts were not yours, reset your password:",
    ],
    url: job.url,
    button: "Reset my password",
  });
}
