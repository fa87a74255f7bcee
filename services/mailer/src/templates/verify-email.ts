import type { VerificationEmail } from "@temetro/shared";
import { escapeHtml, htmlDocument, oneLine, safeLink, textDocument, type RenderedEmail } from "./html.js";

export function renderVerifyEmail(job: VerificationEmail): RenderedEmail {
  const name = oneLine(job.name);
  const url = safeLink(job.url);
  const subject = "Confirm your email address for temetro";
  return {
    subject,
    text: textDocument([
      `Hello ${name},`,
      "Please confirm your email address for your temetro account by opening this link:",
      url,
      "The link is valid for 24 hours. If you did not create a temetro account, ignore this email.",
    ]),
    html: htmlDocument(
      subject,
      [
        `Hello ${escapeHtml(name)},`,
        "Please confirm your email address for your temetro account.",
        "The link is valid for 24 hours. If you did not create a temetro account, ignore this email.",
      ],
      { label: "Confirm my email address", url },
    ),
  };
}
