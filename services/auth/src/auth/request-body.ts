import { ErrorCode } from "../errors.js";

/** Routes whose body Better Auth's username plugin reads before validation. */
export const bodyRequiredPaths = new Set(["/api/auth/sign-up/email", "/api/auth/update-user"]);

// NUL cannot be stored in PostgreSQL text; a lone surrogate is not text at all.
const unstorableText = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * What Better Auth cannot be handed: JSON that does not parse, and strings it would fail on
 * deep inside (a database error, answered as a misleading 422 or 500).
 */
export function inspectBody(contentType: string | undefined, body: Buffer): { code: ErrorCode; message?: string } | undefined {
  let strings: string[];
  if (contentType && /^application\/([\w.+-]+\+)?json\b/i.test(contentType)) {
    let value: unknown;
    try {
      value = JSON.parse(body.toString("utf8"));
    } catch {
      return { code: ErrorCode.INVALID_JSON };
    }
    // Every Better Auth route takes an object (or no body); `null`, a number or an array would
    // reach code that reads its fields.
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      const received = value === null ? "null" : Array.isArray(value) ? "array" : typeof value;
      return { code: ErrorCode.VALIDATION_ERROR, message: `Invalid body: expected object, received ${received}` };
    }
    strings = stringsIn(value);
  } else if (contentType && /^application\/x-www-form-urlencoded\b/i.test(contentType)) {
    strings = [...new URLSearchParams(body.toString("utf8")).entries()].flat();
  } else {
    return undefined; // Better Auth answers 415 itself
  }
  if (strings.some((text) => unstorableText.test(text))) {
    return { code: ErrorCode.INVALID_TEXT };
  }
  return undefined;
}

function stringsIn(value: unknown, found: string[] = []): string[] {
  if (typeof value === "string") found.push(value);
  else if (Array.isArray(value)) for (const item of value) stringsIn(item, found);
  else if (value && typeof value === "object") {
    for (const [key, item] of Object.entries(value)) {
      found.push(key);
      stringsIn(item, found);
    }
  }
  return found;
}
