/**
 * Text PostgreSQL cannot store or that is not text at all: NUL, and a UTF-16 surrogate without its
 * pair. Refused wherever it appears (path, query, body) with 400 INVALID_TEXT, rather than failing
 * deep inside a query (a 500) or being stored as U+FFFD.
 */
const unstorable = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Whether any string in a parsed body (object keys included) is unstorable. Walks with a list,
 * not recursion: a 64 kB body can nest arrays 30,000 deep, past the call stack (a 500).
 */
export function hasUnstorableText(value: unknown): boolean {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const item = pending.pop();
    if (typeof item === "string") {
      if (unstorable.test(item)) return true;
    } else if (Array.isArray(item)) {
      pending.push(...item);
    } else if (item && typeof item === "object") {
      for (const [key, field] of Object.entries(item)) {
        if (unstorable.test(key)) return true;
        pending.push(field);
      }
    }
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
