import type { PasswordChangedEmail } from "@temetro/shared";
import { escapeHtml, htmlDocument, oneLine, readableTime, safeLink, textDocument, type RenderedEmail } from "./html.js";

export function renderPasswordChanged(job: PasswordChangedEmail, links: { frontendUrl: string }): RenderedEmail {
  const name = oneLine(job.name);
  const when = readableTime(job.changedAt);
  const signIn = safeLink(links.frontendUrl);
  const subject = "Your temetro password was changed";
  const notYou =
    "If you did not change it, someone else knows your password: reset it now from the sign-in page and tell your clinic's administrator.";
  return {
    subject,
    text: textDocument([`Hello ${name},`, `The password of your temetro account was changed on ${when}.`, notYou, signIn]),
    html: htmlDocument(
      subject,
      [`Hello ${escapeHtml(name)},`, `The password of your temetro account was changed on ${escapeHtml(when)}.`, escapeHtml(notYou)],
      { label: "Go to the sign-in page", url: signIn },
    ),
  };
}
