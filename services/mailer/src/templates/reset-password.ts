import { describeLifetime, tokenLifetimes, type PasswordResetEmail } from "@temetro/shared";
import { displayName, type RenderedEmail } from "./html.js";
import { renderLinkEmail } from "./link-email.js";

export function renderResetPassword(job: PasswordResetEmail): RenderedEmail {
  const asked = "Someone asked to reset the password of your temetro account. To choose a new password,";
  return renderLinkEmail({
    subject: "Reset your temetro password",
    name: displayName(job.name),
    lead: [{ text: `${asked} open this link:`, html: `${asked} use the button below.` }],
    url: job.url,
    button: "Choose a new password",
    closing: [
      `The link is valid for ${describeLifetime(tokenLifetimes.resetPasswordSeconds)} and works once. ` +
        "If you did not ask for it, ignore this email: your password stays as it is.",
    ],
  });
}
