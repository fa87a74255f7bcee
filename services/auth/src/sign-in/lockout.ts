import { createHash, randomUUID } from "node:crypto";
import type { Pool } from "pg";
import { BASE_ERROR_CODES, type AuthContext, type BetterAuthPlugin } from "better-auth";
import { APIError, createAuthMiddleware, isAPIError } from "better-auth/api";
import { USERNAME_ERROR_CODES } from "better-auth/plugins/username";
import { ErrorCode } from "../errors.js";
import type { AccountLockout } from "./lockout-counts.js";
import { hashPassword, type PasswordHasher } from "./password-hasher.js";

/**
 * Per-account brute-force protection as a Better Auth plugin, around its two password sign-ins.
 * Before: the email or username is resolved to its account, so both spellings of one account
 * count against one lockout; a locked account is refused with exactly the answer a wrong password
 * gets, after the same lookup and verification a wrong password costs (so in the same time). After: a wrong password counts a failure, a success clears the count.
 */

type LogMethod = (fields: object, message: string) => void;
type SignInContext = AuthContext;

export interface SignInLockoutOptions {
  /** Absent where nobody signs in (the migration): the plugin then does nothing. */
  lockout: AccountLockout | undefined;
  /** Where an email or username is resolved to its account. */
  pool: Pool;
  /** The bounded hasher Better Auth verifies with: a locked sign-in verifies through it too. */
  passwordHasher: PasswordHasher;
  log: { warn: LogMethod; info: LogMethod };
  /** Header carrying the client address the service trusts, for the security log. */
  clientIpHeader: string;
  /** A lockout started: tell the account's owner (the email is stored before the answer). */
  onLockoutStarted: (account: LockedAccount, lockedUntil: Date) => Promise<void>;
  /** Counts each sign-in's outcome (the metrics counter); only this plugin can tell a lockout from a wrong password. */
  recordOutcome?: (outcome: SignInOutcome) => void;
}

export type SignInOutcome = "success" | "wrong_password" | "locked" | "busy";

export interface SignInIdentifier {
  kind: "email" | "username";
  /** Normalised as Better Auth looks it up: lower case. */
  value: string;
}

/** The account a sign-in names: `userId` undefined when no account has that email or username. */
export interface LockedAccount {
  userId: string | undefined;
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

/** The lockout counter of an account: one for all its sign-in names (email and username). */
export const accountLockoutKey = (userId: string) => `account:${userId}`;

/**
 * The counter a sign-in counts against: its account's, or, for a name no account has, the name's
 * own, so an unknown name is counted and locked exactly as a real one (a lockout must not tell
 * whether an account exists).
 */
const lockoutKeyOf = (identifier: SignInIdentifier, account: LockedAccount) =>
  account.userId ? accountLockoutKey(account.userId) : `${identifier.kind}:${identifier.value}`;

/** One indexed read, the same for a known and an unknown name (Better Auth reads the row again). */
async function findAccount(pool: Pool, identifier: SignInIdentifier): Promise<LockedAccount> {
  const column = identifier.kind === "email" ? "email" : "username";
  const { rows } = await pool.query<{ id: string }>(`SELECT "id" FROM "user" WHERE "${column}" = $1`, [identifier.value]);
  return { userId: rows[0]?.id };
}

/** For the security log: which counter, without writing the address, username or user id itself. */
const keyHash = (key: string) => createHash("sha256").update(key).digest("hex").slice(0, 16);

interface SignInAttempt {
  identifier: SignInIdentifier;
  account: LockedAccount;
  key: string;
  /** Whether anything was recorded against the counter when the sign-in began. */
  recorded?: boolean;
}

/** What the before-hook found for a sign-in request, for its after-hook. */
const attempts = new WeakMap<Request, SignInAttempt>();

export function signInLockout(options: SignInLockoutOptions): BetterAuthPlugin {
  const { lockout, log, pool, passwordHasher } = options;
  const matcher = (context: { path?: string }) => !!lockout && isSignInPath(context.path);
  // What a locked sign-in verifies against when the name has no password: a hash of nothing
  // anyone knows, with the service's own parameters (Better Auth hashes once for such a name too).
  let decoyHash: Promise<string> | undefined;

  /**
   * A locked sign-in does the work a wrong password does (Better Auth's lookup of the account and
   * one verification through the bounded hasher), whose outcome is then ignored: the refusal takes
   * as long as any other, so the time tells nothing about a lockout.
   */
  async function checkAsAWrongPasswordWould(
    context: { internalAdapter: SignInContext["internalAdapter"]; adapter: SignInContext["adapter"] },
    identifier: SignInIdentifier,
    password: unknown,
  ): Promise<void> {
    let stored: string | null | undefined;
    if (identifier.kind === "email") {
      const found = await context.internalAdapter.findUserByEmail(identifier.value, { includeAccounts: true });
      stored = found?.accounts.find((account) => account.providerId === "credential")?.password;
    } else {
      const user = await context.adapter.findOne<{ id: string }>({ model: "user", where: [{ field: "username", value: identifier.value }] });
      stored = user ? (await context.internalAdapter.findCredentialAccount(user.id))?.password : undefined;
    }
    decoyHash ??= hashPassword(randomUUID());
    await passwordHasher.verify({ hash: stored ?? (await decoyHash), password: typeof password === "string" ? password : "" });
  }

  async function attemptOf(path: SignInPath, body: unknown, request: Request | undefined): Promise<SignInAttempt | undefined> {
    const known = request && attempts.get(request);
    if (known) return known;
    const identifier = identifierOf(path, body);
    if (!identifier) return undefined;
    const account = await findAccount(pool, identifier);
    const attempt = { identifier, account, key: lockoutKeyOf(identifier, account) };
    if (request) attempts.set(request, attempt);
    return attempt;
  }

  return {
    id: "temetro-sign-in-lockout",
    hooks: {
      before: [
        {
          matcher,
          handler: createAuthMiddleware(async (ctx) => {
            const path = ctx.path as SignInPath;
            const attempt = await attemptOf(path, ctx.body, ctx.request);
            if (!attempt) return;
            const { remainingLockMs: remainingMs, recorded } = await lockout!.state(attempt.key);
            attempt.recorded = recorded;
            if (remainingMs <= 0) return;
            await checkAsAWrongPasswordWould(ctx.context, attempt.identifier, (ctx.body as Record<string, unknown>).password);
            const refusedWhileLocked = await lockout!.noteRefusal(attempt.key, remainingMs);
            options.recordOutcome?.("locked");
            log.warn(
              {
                securityEvent: "sign-in-refused-locked",
                identifierKind: attempt.identifier.kind,
                identifierHash: keyHash(attempt.key),
                lockedForSeconds: Math.ceil(remainingMs / 1000),
                refusedWhileLocked,
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
            const attempt = await attemptOf(path, ctx.body, ctx.request);
            if (!attempt) return;
            const returned = ctx.context.returned;
            if (!isAPIError(returned)) {
              options.recordOutcome?.("success");
              // Nothing was recorded when this sign-in began: nothing to forget (a round trip saved).
              if (attempt.recorded === false) return;
              await lockout!.clear(attempt.key);
              return;
            }
            const code = (returned.body as { code?: string } | undefined)?.code;
            if (code === ErrorCode.SERVICE_UNAVAILABLE) options.recordOutcome?.("busy");
            if (code !== wrongPasswordErrors[path].code) return;
            options.recordOutcome?.("wrong_password");

            const outcome = await lockout!.recordFailure(attempt.key);
            if (outcome.lockedForMs === 0) return;
            const lockedUntil = new Date(Date.now() + outcome.lockedForMs);
            log.warn(
              {
                securityEvent: "account-locked",
                identifierKind: attempt.identifier.kind,
                identifierHash: keyHash(attempt.key),
                failures: outcome.failures,
                level: outcome.level,
                lockedForSeconds: Math.ceil(outcome.lockedForMs / 1000),
                client: ctx.headers?.get(options.clientIpHeader),
              },
              "account locked after repeated failed sign-ins",
            );
            // The owner hears of the first lockout of a series, not of every doubling after it.
            if (outcome.level === 1) await options.onLockoutStarted(attempt.account, lockedUntil);
          }),
        },
      ],
    },
  };
}
