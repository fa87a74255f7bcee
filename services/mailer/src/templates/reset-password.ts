import type { PasswordResetEmail } from "@temetro/shared";
import { escapeHtml, htmlDocument, oneLine, safeLink, textDocument, type RenderedEmail } from "./html.js";

export function renderResetPassword(job: PasswordResetEmail): RenderedEmail {
  const name = oneLine(job.name);
  const url = safeLink(job.url);
  const subject = "Reset your temetro password";
  return {
    subject,
    text: textDocument([
      `Hello ${name},`,
      "Someone asked to reset the password of your temetro account. To choose a new password, open this link:",
      url,
      "The link is valid for one hour and works once. If you did not ask for it, ignore this email: your password stays as it is.",
    ]),
    html: htmlDocument(
      subject,
      [
        `Hello ${escapeHtml(name)},`,
        "Someone asked to reset the password of your temetro account. To choose a new password, use the button below.",
        "The link is valid for one hour and works once. If you did not ask for it, ignore this email: your password stays as it is.",
      ],
      { label: "Choose a new password", url },
    ),
  };
}
