import { createHash } from "node:crypto";
import { BASE_ERROR_CODES, type BetterAuthPlugin } from "better-auth";
import { APIError, createAuthMiddleware, isAPIError } from "better-auth/api";
import { USERNAME_ERROR_CODES } from "better-auth/plugins/username";
import { ErrorCode } from "../errors.js";
import type { AccountLockout } from "./lockout-counts.js";

/**
 * Per-account brute-force protection as a Better Auth plugin, around its two password sign-ins.
 * Before: a locked identifier is refused without looking at the password (no hash is run), with
 * exactly the answer a wrong password gets, so a lockout cannot be told apart from a wrong password
 * or an unknown account. After: a wrong password counts a failure, a success clears the count.
 */

type LogMethod = (fields: object, message: string) => void;

export interface SignInLockoutOptions {
  /** Absent where nobody signs in (the migration): the plugin then does nothing. */
  lockout: AccountLockout | undefined;
  log: { warn: LogMethod; info: LogMethod };
  /** Header carrying the client address the service trusts, for the security log. */
  clientIpHeader: string;
  /** A lockout started: tell the account's owner (the email is stored before the answer). */
  onLockoutStarted: (identifier: SignInIdentifier, lockedUntil: Date) => Promise<void>;
  /** Counts each sign-in's outcome (the metrics counter); only this plugin can tell a lockout from a wrong password. */
  recordOutcome?: (outcome: SignInOutcome) => void;
}

export type SignInOutcome = "success" | "wrong_password" | "locked" | "busy";

export interface SignInIdentifier {
  kind: "email" | "username";
  /** Normalised as Better Auth looks it up: lower case. */
  value: string;
}

/** The refusal each sign-in route gives for a wrong password; a locked identifier gets the same. */
const wrongPasswordErrors = {
  "/sign-in/email": BASE_ERROR_CODES.INVALID_EMAIL_OR_PASSWORD,
  "/sign-in/username": USERNAME_ERROR_CODES.INVALID_USERNAME_OR_PASSWORD,
} as const;
type SignInPath = keyof typeof wrongPasswordErrors;

const isSignInPath = (path: string | undefined): path is SignInPath => !!path && path in wrongPasswordErrors;

function identifierOf(path: SignInPath, body: unknown): SignInIdentifier | undefined {
  const fields = (body ?? {}) as Record<string, unknown>;
  const value = path === "/sign-in/email" ? fields.email : fields.username;
  // Anything else is refused by Better Auth's own validation, before a password is looked at.
  if (typeof value !== "string" || value.length === 0 || value.length > 320) return undefined;
  return { kind: path === "/sign-in/email" ? "email" : "username", value: value.toLowerCase() };
}

export const lockoutKey = (identifier: SignInIdentifier) => `${identifier.kind}:${identifier.value}`;

/** For the security log: which identifier, without writing the address or username itself. */
const identifierHash = (identifier: SignInIdentifier) =>
  createHash("sha256").update(lockoutKey(identifier)).digest("hex").slice(0, 16);

/** What the before-hook found for a sign-in request, for its after-hook. */
const recordedBefore = new WeakMap<Request, boolean>();

export function signInLockout(options: SignInLockoutOptions): BetterAuthPlugin {
  const { lockout, log } = options;
  const matcher = (context: { path?: string }) => !!lockout && isSignInPath(context.path);

  return {
    id: "temetro-sign-in-lockout",
    hooks: {
      before: [
        {
          matcher,
          handler: createAuthMiddleware(async (ctx) => {
            const path = ctx.path as SignInPath;
            const identifier = identifierOf(path, ctx.body);
            if (!identifier) return;
            const { remainingLockMs: remainingMs, recorded } = await lockout!.state(lockoutKey(identifier));
            if (ctx.request) recordedBefore.set(ctx.request, recorded);
            if (remainingMs <= 0) return;
            options.recordOutcome?.("locked");
            log.warn(
              {
                securityEvent: "sign-in-refused-locked",
                identifierKind: identifier.kind,
                identifierHash: identifierHash(identifier),
                lockedForSeconds: Math.ceil(remainingMs / 1000),
                client: ctx.headers?.get(options.clientIpHeader),
              },
              "sign-in refused: the account is locked after repeated failures",
            );
            throw APIError.from("UNAUTHORIZED", wrongPasswordErrors[path]);
          }),
        },
      ],
      after: [
        {
          matcher,
          handler: createAuthMiddleware(async (ctx) => {
            const path = ctx.path as SignInPath;
            const identifier = identifierOf(path, ctx.body);
            if (!identifier) return;
            const returned = ctx.context.returned;
            if (!isAPIError(returned)) {
              options.recordOutcome?.("success");
              // Nothing was recorded when this sign-in began: nothing to forget (a round trip saved).
              if (ctx.request && recordedBefore.get(ctx.request) === false) return;
              await lockout!.clear(lockoutKey(identifier));
              return;
            }
            const code = (returned.body as { code?: string } | undefined)?.code;
            if (code === ErrorCode.SERVICE_UNAVAILABLE) options.recordOutcome?.("busy");
            if (code !== wrongPasswordErrors[path].code) return;
            options.recordOutcome?.("wrong_password");

            const outcome = await lockout!.recordFailure(lockoutKey(identifier));
            if (outcome.lockedForMs === 0) return;
            const lockedUntil = new Date(Date.now() + outcome.lockedForMs);
            log.warn(
              {
                securityEvent: "account-locked",
                identifierKind: identifier.kind,
                identifierHash: identifierHash(identifier),
                failures: outcome.failures,
                level: outcome.level,
                lockedForSeconds: Math.ceil(outcome.lockedForMs / 1000),
                client: ctx.headers?.get(options.clientIpHeader),
              },
              "account locked after repeated failed sign-ins",
            );
            // The owner hears of the first lockout of a series, not of every doubling after it.
            if (outcome.level === 1) await options.onLockoutStarted(identifier, lockedUntil);
          }),
        },
      ],
    },
  };
}
