import { betterAuth, type BetterAuthOptions } from "better-auth";
import { APIError, createAuthMiddleware, isAPIError } from "better-auth/api";
import { jwt, organization, username } from "better-auth/plugins";
import type { Pool } from "pg";
import type { EmailJob } from "@temetro/shared";
import type { Config } from "../config.js";
import { accessControl, roles } from "../clinics/roles.js";
import { findMembership } from "../clinics/membership-store.js";
import type { Invalidation } from "../sessions/invalidation.js";
import type { AccountLockout } from "../sign-in/lockout-counts.js";
import { createPasswordHasher, MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, type PasswordHasher } from "../sign-in/password-hasher.js";
import { signInLockout, type SignInIdentifier, type SignInOutcome } from "../sign-in/lockout.js";
import { isPlaceholderEmail } from "../clinics/staff-store.js";
import { readSessionStartFacts } from "../sessions/session-start.js";
import { noteLoggedFailure } from "./dependency-failures.js";
import { membershipHooks, refuseUnassignableRole } from "../clinics/membership-rules.js";

/**
 * The one place Better Auth is configured: plugins, roles, hooks, email senders.
 * Fastify glue lives in auth/routes.ts; this module knows nothing of Fastify.
 */

/** Header through which the Fastify adapter hands Better Auth the client address it trusts. */
export const CLIENT_IP_HEADER = "x-temetro-client-ip";

type LogMethod = (fields: object, message: string) => void;
/** What Better Auth's messages are written to: the service's pino logger (or Fastify's view of it). */
export interface AuthLogger {
  child(bindings: Record<string, unknown>): Record<"debug" | "info" | "warn" | "error", LogMethod>;
}

export interface AuthDeps {
  config: Config;
  pool: Pool;
  logger: AuthLogger;
  /**
   * Stores an email in the outbox. Inside a request (email/plugin.ts, `withEmailsStored`)
   * it only joins the request's emails, which are written once, before the answer: the senders
   * below never fail, so Better Auth (which swallows a sender's error) cannot answer 200 for an
   * email that was not stored.
   */
  enqueueEmail: (job: EmailJob) => Promise<void>;
  /** The request has nobody to email but must cost the same write as one that has (timing). */
  coverMissingEmail?: () => void;
  /** Bounded password hashing (one per process); the migration runs without one. */
  passwordHasher?: PasswordHasher;
  /** Per-account brute-force protection of sign-in; the migration runs without it. */
  accountLockout?: AccountLockout;
  /** Counts sign-in outcomes (metrics); absent in the migration. */
  recordSignInOutcome?: (outcome: SignInOutcome) => void;
  /** Tells every replica's session cache that something changed (sessions/invalidation.ts). */
  invalidate: (message: Invalidation) => Promise<void>;
}

export function authOptions({
  config,
  pool,
  logger,
  enqueueEmail,
  coverMissingEmail = () => {},
  passwordHasher = createPasswordHasher(config.passwordHashConcurrency),
  accountLockout,
  recordSignInOutcome,
  invalidate,
}: AuthDeps) {
  const log = logger.child({ component: "better-auth" });
  const frontend = (path: string) => `${config.frontendUrl}${path}`;
  // Told to the owner of an account whose password changed, reset or not: if it was not them,
  // they learn it now. Stored with the request's other emails, before it answers.
  const notifyPasswordChanged = (user: { email: string; name: string }) =>
    enqueueEmail({ kind: "password-changed", to: user.email, name: user.name, changedAt: new Date().toISOString() });

  /** Tells an account's owner that sign-in is locked, and where to reset the password. */
  async function notifyLockout(identifier: SignInIdentifier, lockedUntil: Date): Promise<void> {
    const column = identifier.kind === "email" ? "email" : "username";
    const { rows } = await pool.query<{ email: string; name: string }>(
      `SELECT "email", "name" FROM "user" WHERE "${column}" = $1`,
      [identifier.value],
    );
    const owner = rows[0];
    // An unknown identifier: nobody to tell, but the same write, so the answer that starts a
    // lockout takes as long for an unknown account as for a real one.
    if (!owner) return coverMissingEmail();
    await enqueueEmail({
      kind: "account-locked",
      to: owner.email,
      name: owner.name,
      lockedUntil: lockedUntil.toISOString(),
      url: frontend("/forgot-password"),
    });
  }

  return {
    appName: "temetro",
    baseURL: config.betterAuthUrl,
    basePath: "/api/auth",
    secret: config.betterAuthSecret,
    database: pool,
    trustedOrigins: config.trustedOrigins,
    logger: {
      level: config.logLevel === "debug" || config.logLevel === "trace" ? "debug" : "warn",
      log: (level, message, ...logged) => {
        // A database failure Better Auth only logs (and answers as a 4xx) is noted for the adapter.
        noteLoggedFailure(logged);
        log[level]({}, message);
      },
    },
    // Better Auth answers its own errors (APIError: 4xx, and the 503 of a full hashing bound) as
    // responses. Anything else (PostgreSQL restarting, the pool timing out) would become a bare
    // 500; thrown out of the handler instead, it reaches the service's error handler, which
    // answers 503 with Retry-After when a dependency is down and logs it (plugins/errors.ts).
    onAPIError: { throw: true },
    emailAndPassword: {
      enabled: true,
      minPasswordLength: MIN_PASSWORD_LENGTH,
      maxPasswordLength: MAX_PASSWORD_LENGTH,
      requireEmailVerification: config.requireEmailVerification,
      revokeSessionsOnPasswordReset: true,
      resetPasswordTokenExpiresIn: 3600,
      password: { hash: passwordHasher.hash, verify: passwordHasher.verify },
      onPasswordReset: async ({ user }) => notifyPasswordChanged(user),
      sendResetPassword: async ({ user, url }) => {
        // A staff account created without an address has nowhere to receive a link.
        if (isPlaceholderEmail(user.email)) return;
        await enqueueEmail({
          kind: "reset-password",
          to: user.email,
          name: user.name,
          url: withDefaultCallback(url, "callbackURL", frontend("/reset-password")),
        });
      },
    },
    emailVerification: {
      sendOnSignUp: true,
      autoSignInAfterVerification: true,
      expiresIn: 24 * 3600,
      sendVerificationEmail: async ({ user, url }) => {
        if (isPlaceholderEmail(user.email)) return;
        await enqueueEmail({
          kind: "verify-email",
          to: user.email,
          name: user.name,
          url: withDefaultCallback(url, "callbackURL", frontend("/")),
        });
      },
    },
    user: {
      additionalFields: {
        // The password is an initial one an admin chose: the clinic guard refuses data requests
        // until the user replaces it through change-password (get-session shows the flag).
        mustChangePassword: { type: "boolean", required: false, defaultValue: false, input: false },
        // The clinic that created this staff account (POST /api/staff); null for people who signed up.
        createdByClinicId: { type: "string", required: false, input: false },
        // Set when the creating clinic removes the account: it can no longer sign in.
        disabled: { type: "boolean", required: false, defaultValue: false, input: false },
      },
    },
    session: {
      expiresIn: 7 * 24 * 3600,
      updateAge: 24 * 3600,
    },
    // @fastify/rate-limit does the limiting, keyed on the address Fastify trusts (issue 4).
    rateLimit: { enabled: false },
    advanced: {
      // No backgroundTasks: emails are stored before the answer (auth/routes.ts), so a 200 means
      // the email is durable. The reset routes cost one write whether or not the account exists.
      // The same origin checks in tests as in production (Better Auth skips them under NODE_ENV=test).
      disableOriginCheck: false,
      ipAddress: { ipAddressHeaders: [CLIENT_IP_HEADER] },
      defaultCookieAttributes: { httpOnly: true, sameSite: "lax" },
    },
    // Every change that alters who a session belongs to or what it may do is announced to every
    // replica by PostgreSQL's triggers, in the change's transaction (migration 0005); these hooks
    // make this replica forget at once, and wait for nothing (sessions/invalidation.ts).
    databaseHooks: {
      user: {
        update: { after: async (user) => invalidate(`user:${user.id}`) },
        delete: { after: async (user) => invalidate(`user:${user.id}`) },
      },
      session: {
        update: { after: async (session) => invalidate(`session:${session.id}`) },
        delete: { after: async (session) => invalidate(`session:${session.id}`) },
        create: {
          // A user of exactly one clinic acts in it from sign-in on; with several, set-active chooses.
          // Read on the connection of the transaction the session is created in (sign-up holds
          // one while it hashes): a second connection from the pool can deadlock it.
          before: async (session, context) => {
            const facts = await readSessionStartFacts(context?.context.adapter, pool, session.userId);
            if (facts.disabled) {
              throw new APIError("FORBIDDEN", { code: "ACCOUNT_DISABLED", message: "This account has been disabled" });
            }
            if (session.activeOrganizationId || !facts.soleClinicId) return;
            return { data: { ...session, activeOrganizationId: facts.soleClinicId } };
          },
        },
      },
    },
    hooks: {
      // Invitations carry one of temetro's assignable roles; an initial password must really be
      // replaced, not re-entered.
      before: createAuthMiddleware(async (ctx) => {
        // Checked before Better Auth's own role check, which answers an unknown role without a code.
        if (ctx.path === "/organization/invite-member") {
          const role = (ctx.body as { role?: unknown } | undefined)?.role;
          refuseUnassignableRole(Array.isArray(role) ? role.join(",") : String(role ?? ""));
          return;
        }
        if (ctx.path !== "/change-password") return;
        const body = ctx.body as { currentPassword?: unknown; newPassword?: unknown } | undefined;
        if (typeof body?.newPassword === "string" && body.newPassword === body.currentPassword) {
          throw new APIError("BAD_REQUEST", {
            code: "PASSWORD_UNCHANGED",
            message: "The new password must differ from the current one",
          });
        }
      }),
      // A successful change-password ends the forced first change, and tells the owner.
      after: createAuthMiddleware(async (ctx) => {
        // A disabled account's sessions are worth nothing, whichever way get-session is asked
        // (the /api guard and introspection refuse them too: sessions/directory.ts).
        if (ctx.path === "/get-session") {
          const returned = ctx.context.returned as { user?: { disabled?: unknown } } | null | undefined;
          if (returned && !(returned instanceof Response) && returned.user?.disabled === true) return ctx.json(null);
          return;
        }
        if (ctx.path !== "/change-password") return;
        const returned = ctx.context.returned;
        if (!returned || isAPIError(returned) || returned instanceof Error || returned instanceof Response) return;
        const { user } = returned as { user?: { id?: string; email?: string; name?: string } };
        if (!user?.id) return;
        await pool.query(`UPDATE "user" SET "mustChangePassword" = false WHERE "id" = $1 AND "mustChangePassword"`, [
          user.id,
        ]);
        await invalidate(`user:${user.id}`);
        if (user.email) await notifyPasswordChanged({ email: user.email, name: user.name ?? "" });
      }),
    },
    plugins: [
      signInLockout({
        lockout: accountLockout,
        log: logger.child({ component: "sign-in-lockout" }),
        clientIpHeader: CLIENT_IP_HEADER,
        onLockoutStarted: notifyLockout,
        recordOutcome: recordSignInOutcome,
      }),
      username({
        minUsernameLength: 3,
        maxUsernameLength: 32,
        usernameValidator: (name) => /^[A-Za-z0-9._]+$/.test(name),
      }),
      organization({
        ac: accessControl,
        roles,
        creatorRole: "owner",
        invitationExpiresIn: 7 * 24 * 3600,
        cancelPendingInvitationsOnReInvite: true,
        organizationHooks: announceMembershipChanges(membershipHooks({ pool, clientIpHeader: CLIENT_IP_HEADER }), invalidate),
        schema: {
          organization: {
            additionalFields: {
              // A clinic's choice: must staff replace the password an admin set at first sign-in?
              // Switched with organization/update `{ data: { staffMustChangePassword: false } }`.
              staffMustChangePassword: { type: "boolean", required: false, defaultValue: true, input: true },
            },
          },
        },
        sendInvitationEmail: async ({ id, email, role, organization: clinic, inviter }) => {
          await enqueueEmail({
            kind: "invitation",
            to: email,
            name: email,
            inviterName: inviter.user.name,
            clinicName: clinic.name,
            role,
            url: frontend(`/accept-invitation?invitationId=${encodeURIComponent(id)}`),
          });
        },
      }),
      // Short-lived tokens for calls between services: GET /api/auth/token, keys at /api/auth/jwks.
      jwt({
        jwks: {
          keyPairConfig: { alg: "EdDSA", crv: "Ed25519" },
          rotationInterval: config.jwtKeyRotationDays > 0 ? config.jwtKeyRotationDays * 24 * 3600 : undefined,
          // A retired key stays published long enough for every token it signed to expire.
          gracePeriod: 24 * 3600,
        },
        jwt: {
          issuer: config.betterAuthUrl,
          audience: config.jwtAudience,
          expirationTime: "5m",
          // Subject (added by the plugin), clinic and role: nothing else about the user travels.
          definePayload: async ({ user, session }) => {
            const clinicId = (session.activeOrganizationId as string | null | undefined) ?? null;
            const membership = clinicId ? await findMembership(pool, session.userId, clinicId) : null;
            // A token says nothing of the initial password, so none is minted until it is replaced:
            // otherwise a service trusting the token would let the staff member past that rule.
            if (user.mustChangePassword === true && (membership?.staffMustChangePassword ?? true)) {
              throw new APIError("FORBIDDEN", {
                code: "PASSWORD_CHANGE_REQUIRED",
                message: "Replace the initial password first (POST /api/auth/change-password)",
              });
            }
            return { clinic: membership?.clinic.id ?? null, role: membership?.role ?? null };
          },
        },
        // No token minted on every get-session: callers that want one ask /token.
        disableSettingJwtHeader: true,
      }),
    ],
  } satisfies BetterAuthOptions;
}

export function createAuth(deps: AuthDeps) {
  return betterAuth(authOptions(deps));
}

export type Auth = ReturnType<typeof createAuth>;

/**
 * Better Auth builds links with `callbackURL=/` or an empty one when the client gave none; both
 * lead nowhere useful from an email. Point them at the frontend page instead.
 */
function withDefaultCallback(link: string, parameter: string, fallback: string): string {
  const url = new URL(link);
  const current = url.searchParams.get(parameter);
  if (!current || current === "/") url.searchParams.set(parameter, fallback);
  return url.toString();
}

/**
 * temetro's membership rules (audit, owner protection) plus the announcement of every change that
 * alters what a member may do, so that no replica serves a cached answer about it. The
 * announcement comes after the rules' own writes, and even when they fail.
 */
function announceMembershipChanges(
  rules: ReturnType<typeof membershipHooks>,
  invalidate: (message: Invalidation) => Promise<void>,
) {
  return {
    ...rules,
    afterAddMember: async ({ member }: { member: { userId: string } }) => invalidate(`user:${member.userId}`),
    afterAcceptInvitation: async (data: Parameters<typeof rules.afterAcceptInvitation>[0]) => {
      try {
        await rules.afterAcceptInvitation(data);
      } finally {
        await invalidate(`user:${data.member.userId}`);
      }
    },
    afterUpdateMemberRole: async (data: Parameters<typeof rules.afterUpdateMemberRole>[0]) => {
      try {
        await rules.afterUpdateMemberRole(data);
      } finally {
        await invalidate(`user:${data.member.userId}`);
      }
    },
    // The rules end the removed member's sessions in this clinic: announce once that is done, so
    // no replica re-reads the session in between and keeps it.
    afterRemoveMember: async (data: Parameters<typeof rules.afterRemoveMember>[0]) => {
      try {
        await rules.afterRemoveMember(data);
      } finally {
        await invalidate(`user:${data.member.userId}`);
      }
    },
    afterUpdateOrganization: async ({ organization: clinic }: { organization: { id: string } | null }) => {
      if (clinic) await invalidate(`clinic:${clinic.id}`);
    },
    afterDeleteOrganization: async ({ organization: clinic }: { organization: { id: string } }) =>
      invalidate(`clinic:${clinic.id}`),
  };
}
