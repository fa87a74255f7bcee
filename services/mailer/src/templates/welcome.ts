import type { WelcomeEmail } from "@temetro/shared";
import { escapeHtml, htmlDocument, oneLine, safeLink, textDocument, type RenderedEmail } from "./html.js";

export function renderWelcome(job: WelcomeEmail): RenderedEmail {
  const name = oneLine(job.name);
  const clinic = oneLine(job.clinicName);
  const username = oneLine(job.username);
  const url = safeLink(job.url);
  const subject = `Your temetro account at ${clinic}`;
  return {
    subject,
    text: textDocument([
      `Hello ${name},`,
      `${clinic} created a temetro account for you. Your username is: ${username}`,
      "Your administrator gives you your first password. Sign in here:",
      url,
    ]),
    html: htmlDocument(
      subject,
      [
        `Hello ${escapeHtml(name)},`,
        `${escapeHtml(clinic)} created a temetro account for you. Your username is: <strong>${escapeHtml(username)}</strong>`,
        "Your administrator gives you your first password.",
      ],
      { label: "Sign in to temetro", url },
    ),
  };
}
