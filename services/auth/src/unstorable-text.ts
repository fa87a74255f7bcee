/**
 * Text PostgreSQL cannot store or that is not text at all: NUL, and a UTF-16 surrogate without its
 * pair. Refused wherever it appears (path, query, body) with 400 INVALID_TEXT, rather than failing
 * deep inside a query (a 500) or being stored as U+FFFD.
 */
const unstorable = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Whether any string in a parsed body (object keys included) is unstorable. */
export function hasUnstorableText(value: unknown): boolean {
  if (typeof value === "string") return unstorable.test(value);
  if (Array.isArray(value)) return value.some(hasUnstorableText);
  if (value && typeof value === "object") {
    return Object.entries(value).some(([key, item]) => unstorable.test(key) || hasUnstorableText(item));
  }
  return false;
}

/**
 * Whether the request target's path or query decodes to unstorable text. A NUL cannot be sent
 * literally (the HTTP parser refuses it), only percent-encoded; a percent-encoding that is not
 * UTF-8 (`%ED%A0%80`, a surrogate) does not decode at all and counts as unstorable too.
 */
export function targetHasUnstorableText(url: string): boolean {
  if (!url.includes("%")) return false;
  for (const piece of url.split(/[?&=#]/)) {
    if (!piece.includes("%")) continue;
    let decoded: string;
    try {
      decoded = decodeURIComponent(piece.replace(/\+/g, " "));
    } catch {
      return true;
    }
    if (unstorable.test(decoded)) return true;
  }
  return false;
}
