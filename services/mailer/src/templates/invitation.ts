import { describeLifetime, tokenLifetimes, type InvitationEmail } from "@temetro/shared";
import { displayName, escapeHtml, oneLine, type RenderedEmail } from "./html.js";
import { renderLinkEmail } from "./link-email.js";

export function renderInvitation(job: InvitationEmail): RenderedEmail {
  const inviter = displayName(job.inviterName);
  const clinic = displayName(job.clinicName);
  const role = oneLine(job.role);
  return renderLinkEmail({
    subject: `${inviter} invited you to ${clinic} on temetro`,
    lead: [
      {
        text: `${inviter} invited you to join ${clinic} on temetro as ${role}. To accept, open this link:`,
        html: `${escapeHtml(inviter)} invited you to join <strong>${escapeHtml(clinic)}</strong> on temetro as <strong>${escapeHtml(role)}</strong>.`,
      },
    ],
    url: job.url,
    button: "Accept the invitation",
    closing: [
      `The invitation is valid for ${describeLifetime(tokenLifetimes.invitationSeconds)}. If you did not expect it, ignore this email.`,
    ],
  });
}
