/**
 * The pieces every email is built from. Every string that reaches HTML goes through `escapeHtml`
 * (names and clinic names are user-supplied); links additionally must be http(s).
 */

const htmlEscapes: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => htmlEscapes[character]!);
}

/** A link fit for an email: only http(s), so a `javascript:` URL can never become a button. */
export function safeLink(url: string): string {
  const parsed = new URL(url);
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new Error(`refusing a ${parsed.protocol} link in an email`);
  return parsed.toString();
}

/** One line of user text in a subject or plain-text part: no line breaks or control characters. */
export function oneLine(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f]+/g, " ").trim();
}

/**
 * A name someone chose (a person's, a clinic's) as an email shows it: one line, and nothing a mail
 * client would turn into a link, in the text part or the HTML one. Clients link what looks like a
 * domain or a URL ("evil.example", "https://…"): every dot becomes a one-dot leader (U+2024, which
 * reads as a dot) and "://" loses its colon (U+2236, a ratio sign), so a name can say anything but
 * point nowhere. Escaped for HTML as every string is.
 */
export function displayName(text: string): string {
  return oneLine(text).replaceAll(".", "\u2024").replaceAll("://", "\u2236//");
}

/** An ISO time as people read it in an email: `26 Nov 2026, 14:07 UTC`. */
export function readableTime(iso: string): string {
  const time = new Date(iso);
  if (Number.isNaN(time.getTime())) throw new Error("not a time");
  return `${time.toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short", timeZone: "UTC" })} UTC`;
}

export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
}

/** Paragraphs of already-escaped HTML, and at most one button, in temetro's plain layout. */
export function htmlDocument(title: string, paragraphs: string[], button?: { label: string; url: string }): string {
  const buttonHtml = button
    ? `<p style="margin:24px 0"><a href="${escapeHtml(button.url)}" style="background:#0f766e;color:#ffffff;padding:12px 20px;border-radius:6px;text-decoration:none;display:inline-block">${escapeHtml(button.label)}</a></p>
<p style="color:#555555;font-size:13px">If the button does not work, copy this link into your browser:<br><a href="${escapeHtml(button.url)}" style="color:#0f766e;word-break:break-all">${escapeHtml(button.url)}</a></p>`
    : "";
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${escapeHtml(title)}</title></head>
<body style="font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;color:#1f2937;line-height:1.5;max-width:560px;margin:0 auto;padding:24px">
${paragraphs.map((paragraph) => `<p>${paragraph}</p>`).join("\n")}
${buttonHtml}
<p style="color:#6b7280;font-size:12px;margin-top:32px">temetro, clinic management</p>
</body>
</html>
`;
}

/** The plain-text part: paragraphs separated by blank lines, links on lines of their own. */
export function textDocument(paragraphs: string[]): string {
  return `${paragraphs.join("\n\n")}\n\n-- \ntemetro, clinic management\n`;
}
