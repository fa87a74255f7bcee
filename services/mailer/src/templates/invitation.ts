import type { InvitationEmail } from "@temetro/shared";
import { escapeHtml, htmlDocument, oneLine, safeLink, textDocument, type RenderedEmail } from "./html.js";

export function renderInvitation(job: InvitationEmail): RenderedEmail {
  const inviter = oneLine(job.inviterName);
  const clinic = oneLine(job.clinicName);
  const role = oneLine(job.role);
  const url = safeLink(job.url);
  const subject = `${inviter} invited you to ${clinic} on temetro`;
  return {
    subject,
    text: textDocument([
      "Hello,",
      `${inviter} invited you to join ${clinic} on temetro as ${role}. To accept, open this link:`,
      url,
      "The invitation is valid for 7 days. If you did not expect it, ignore this email.",
    ]),
    html: htmlDocument(
      subject,
      [
        "Hello,",
        `${escapeHtml(inviter)} invited you to join <strong>${escapeHtml(clinic)}</strong> on temetro as <strong>${escapeHtml(role)}</strong>.`,
        "The invitation is valid for 7 days. If you did not expect it, ignore this email.",
      ],
      { label: "Accept the invitation", url },
    ),
  };
}
