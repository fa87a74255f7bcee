import type { BetterAuthPlugin } from "better-auth";
import { createAuthMiddleware } from "better-auth/api";
import { betterAuthRefusal, ErrorCode, HttpError } from "../errors.js";
import { commonPasswords, comparableForm } from "./common-passwords.js";

/**
 * What a new password must be (NIST SP 800-63B, ASVS 2.1): long enough, not absurdly long, and not
 * one people commonly choose; no composition rules. The same rule on every entrance that sets a
 * password: sign-up, reset, change-password (Better Auth's routes, through the plugin below), a
 * staff account's creation and its initial password (clinics/staff-accounts.ts).
 */

/**
 * Length bounds in Unicode code points after NFKC, the form the password is hashed in
 * (sign-in/password-hasher.ts): an emoji is one character, not two UTF-16 units, and `é` is one
 * whether typed as one code point or as e + accent.
 */
export const MIN_PASSWORD_LENGTH = 12;
export const MAX_PASSWORD_LENGTH = 128;

/**
 * The longest password text, in UTF-16 units, any route reads (Better Auth's own bound, which it
 * applies to sign-in too). It bounds the work spent on a body, not the rule: no NFKC composition
 * merges more than four code points into one, and a code point is at most two units, so anything
 * longer is over 128 characters however it normalises.
 */
export const MAX_PASSWORD_INPUT_UNITS = 4 * 2 * MAX_PASSWORD_LENGTH;

const whitespaceOnly = /^\s*$/u;

/**
 * Twelve spaces, `aaaaaaaaaaaa`, `abcabcabcabc`: a few characters over and over is as guessable as
 * a listed password, and no list holds every one of them. Refused when the password is one unit of
 * up to four characters repeated (at least three times, at the minimum length), or only whitespace.
 */
function isRepetition(password: string): boolean {
  const characters = [...password];
  for (let unit = 1; unit <= 4; unit += 1) {
    if (characters.every((character, at) => at < unit || character === characters[at - unit])) return true;
  }
  return whitespaceOnly.test(password);
}

/** The refusal a new password earns, or none: 400 PASSWORD_TOO_SHORT, PASSWORD_TOO_LONG or PASSWORD_TOO_COMMON. */
export function passwordRefusal(password: string) {
  if (password.length > MAX_PASSWORD_INPUT_UNITS) return ErrorCode.PASSWORD_TOO_LONG;
  const length = [...password.normalize("NFKC")].length;
  if (length < MIN_PASSWORD_LENGTH) return ErrorCode.PASSWORD_TOO_SHORT;
  if (length > MAX_PASSWORD_LENGTH) return ErrorCode.PASSWORD_TOO_LONG;
  const comparable = comparableForm(password);
  if (isRepetition(comparable) || commonPasswords(MIN_PASSWORD_LENGTH).has(comparable)) return ErrorCode.PASSWORD_TOO_COMMON;
  return undefined;
}

/** Throws the refusal of a new password (an HttpError), if it earns one. */
export function refuseWeakPassword(password: string): void {
  const refusal = passwordRefusal(password);
  if (refusal) throw new HttpError(refusal);
}

/** Loads the common-password list now, so that the first sign-up does not pay for it. */
export function preparePasswordRules(): void {
  commonPasswords(MIN_PASSWORD_LENGTH);
}

/** Where Better Auth's routes take a new password. `set-password` is server-only: no HTTP route. */
const newPasswordByPath: Record<string, (body: Record<string, unknown>) => unknown> = {
  "/sign-up/email": (body) => body.password,
  "/reset-password": (body) => body.newPassword,
  "/change-password": (body) => body.newPassword,
  "/set-password": (body) => body.newPassword,
};

/**
 * The rule on Better Auth's routes, before they hash anything or spend a reset link (a refused
 * password leaves the link usable). Better Auth's own length check counts UTF-16 units before
 * NFKC; it is left as a bound on the input only (auth/options.ts).
 */
export function passwordRules() {
  preparePasswordRules();
  return {
    id: "temetro-password-rules",
    hooks: {
      before: [
        {
          matcher: (context: { path?: string }) => context.path !== undefined && Object.hasOwn(newPasswordByPath, context.path),
          handler: createAuthMiddleware(async (ctx) => {
            const body = ctx.body && typeof ctx.body === "object" ? (ctx.body as Record<string, unknown>) : {};
            const password = newPasswordByPath[ctx.path]!(body);
            // Not a string: Better Auth's own body validation answers.
            const refusal = typeof password === "string" ? passwordRefusal(password) : undefined;
            if (refusal) throw betterAuthRefusal(refusal);
          }),
        },
      ],
    },
  } satisfies BetterAuthPlugin;
}
