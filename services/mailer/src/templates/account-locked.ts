import type { AccountLockedEmail } from "@temetro/shared";
import { escapeHtml, htmlDocument, oneLine, readableTime, safeLink, textDocument, type RenderedEmail } from "./html.js";

export function renderAccountLocked(job: AccountLockedEmail): RenderedEmail {
  const name = oneLine(job.name);
  const until = readableTime(job.lockedUntil);
  const url = safeLink(job.url);
  const subject = "Your temetro account is temporarily locked";
  const explanation = `After several wrong passwords, sign-in to your temetro account is paused until ${until}.`;
  const notYou = "If these attempts were not yours, reset your password:";
  return {
    subject,
    text: textDocument([`Hello ${name},`, explanation, notYou, url]),
    html: htmlDocument(subject, [`Hello ${escapeHtml(name)},`, escapeHtml(explanation), escapeHtml(notYou)], {
      label: "Reset my password",
      url,
    }),
  };
}
