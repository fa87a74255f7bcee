import type { WelcomeEmail } from "@temetro/shared";
import { displayName, escapeHtml, oneLine, type RenderedEmail } from "./html.js";
import { renderLinkEmail } from "./link-email.js";

export function renderWelcome(job: WelcomeEmail): RenderedEmail {
  const clinic = displayName(job.clinicName);
  const username = oneLine(job.username);
  return renderLinkEmail({
    subject: `Your temetro account at ${clinic}`,
    name: displayName(job.name),
    lead: [
      {
        text: `${clinic} created a temetro account for you. Your username is: ${username}`,
        html: `${escapeHtml(clinic)} created a temetro account for you. Your username is: <strong>${escapeHtml(username)}</strong>`,
      },
      { text: "Your administrator gives you your first password. Sign in here:", html: "Your administrator gives you your first password." },
    ],
    url: job.url,
    button: "Sign in to temetro",
  });
}
