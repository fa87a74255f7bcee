import { escapeHtml, htmlDocument, safeLink, textDocument, type RenderedEmail } from "./html.js";

/**
 * A paragraph of an email. Plain text is escaped for the HTML part; give both forms where the HTML
 * differs (markup around user strings, or words that point at the button instead of the link).
 */
export type Paragraph = string | { text: string; html: string };

export interface LinkEmail {
  subject: string;
  /** Whom "Hello" names (one line of user text); just "Hello," without it. */
  name?: string;
  /** Before the link: the text part ends them with the link on a line of its own. */
  lead: Paragraph[];
  url: string;
  /** The HTML part's button, which carries the link there. */
  button: string;
  /** After the link: how long it works, what to do when it was not expected. */
  closing?: Paragraph[];
}

/** Every email of this mailer: a greeting, why it was sent, one link (a button in HTML), a closing. */
export function renderLinkEmail({ subject, name, lead, url, button, closing = [] }: LinkEmail): RenderedEmail {
  const link = safeLink(url);
  const text = (paragraph: Paragraph) => (typeof paragraph === "string" ? paragraph : paragraph.text);
  const html = (paragraph: Paragraph) => (typeof paragraph === "string" ? escapeHtml(paragraph) : paragraph.html);
  const greeting = name === undefined ? "Hello," : `Hello ${name},`;
  return {
    subject,
    text: textDocument([greeting, ...lead.map(text), link, ...closing.map(text)]),
    html: htmlDocument(subject, [escapeHtml(greeting), ...lead.map(html), ...closing.map(html)], { label: button, url: link }),
  };
}
