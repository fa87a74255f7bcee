import { ErrorCode } from "../errors.js";
import { hasUnstorableText } from "../unstorable-text.js";

/** Routes whose body Better Auth's username plugin reads before validation. */
export const bodyRequiredPaths = new Set(["/api/auth/sign-up/email", "/api/auth/update-user"]);

/**
 * What Better Auth cannot be handed: JSON that does not parse, and strings it would fail on
 * deep inside (a database error, answered as a misleading 422 or 500).
 */
export function inspectBody(contentType: string | undefined, body: Buffer): { code: ErrorCode; message?: string } | undefined {
  let parsed: unknown;
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
    parsed = value;
  } else if (contentType && /^application\/x-www-form-urlencoded\b/i.test(contentType)) {
    parsed = [...new URLSearchParams(body.toString("utf8")).entries()];
  } else {
    return undefined; // Better Auth answers 415 itself
  }
  return hasUnstorableText(parsed) ? { code: ErrorCode.INVALID_TEXT } : undefined;
}
