import { betterAuth, type BetterAuthOptions } from "better-auth";
import { createAuthMiddleware, isAPIError } from "better-auth/api";
import { organization, username } from "better-auth/plugins";
import type { Pool } from "pg";
import type { Config, EmailJob } from "@temetro/shared";
import { accessControl, roles } from "./access.js";
import { findSoleClinicId } from "./db/clinics.js";
import { hashPassword, MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, verifyPassword } from "./password.js";

/**
 * The one place Better Auth is configured: plugins, roles, hooks, email senders.
 * Fastify glue lives in routes/auth.ts; this module knows nothing of Fastify.
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
  /** Hands an email to the queue. Better Auth does not wait for it (see backgroundTasks). */
  enqueueEmail: (job: EmailJob) => Promise<void>;
  /** Where Better Auth's background work (email hand-over) is tracked, so shutdown can await it. */
  runInBackground: (work: Promise<unknown>) => void;
}

export function authOptions({ config, pool, logger, enqueueEmail, runInBackground }: AuthDeps) {
  const log = logger.child({ component: "better-auth" });
  const frontend = (path: string) => `${config.frontendUrl}${path}`;
  // Told to the owner of an account whose password changed, reset or not: if it was not them,
  // they learn it now. Handed over in the background like every email (never delays the answer).
  const notifyPasswordChanged = (user: { email: string; name: string }) =>
    runInBackground(
      enqueueEmail({ kind: "password-changed", to: user.email, name: user.name, changedAt: new Date().toISOString() }),
    );

  return {
    appName: "temetro",
    baseURL: config.betterAuthUrl,
    basePath: "/api/auth",
    secret: config.betterAuthSecret,
    database: pool,
    trustedOrigins: config.trustedOrigins,
    logger: {
      level: config.logLevel === "debug" || config.logLevel === "trace" ? "debug" : "warn",
      log: (level, message) => log[level]({}, message),
    },
    // Better Auth's own error printing goes to the console as plain text; route it to the JSON log.
    // Client errors are already in the request log with their status: keep them at debug.
    onAPIError: {
      onError: (error) => {
        const status = (error as { statusCode?: number }).statusCode;
        if (status !== undefined && status < 500) log.debug({ status }, (error as Error).message);
        else log.error({ err: error }, "Better Auth request failed");
      },
    },
    emailAndPassword: {
      enabled: true,
      minPasswordLength: MIN_PASSWORD_LENGTH,
      maxPasswordLength: MAX_PASSWORD_LENGTH,
      requireEmailVerification: config.requireEmailVerification,
      revokeSessionsOnPasswordReset: true,
      resetPasswordTokenExpiresIn: 3600,
      password: { hash: hashPassword, verify: verifyPassword },
      onPasswordReset: async ({ user }) => notifyPasswordChanged(user),
      sendResetPassword: async ({ user, url }) => {
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
        await enqueueEmail({
          kind: "verify-email",
          to: user.email,
          name: user.name,
          url: withDefaultCallback(url, "callbackURL", frontend("/")),
        });
      },
    },
    session: {
      expiresIn: 7 * 24 * 3600,
      updateAge: 24 * 3600,
    },
    // @fastify/rate-limit does the limiting, keyed on the address Fastify trusts (issue 4).
    rateLimit: { enabled: false },
    advanced: {
      // Emails are handed to the queue after the response is decided: the request path, and so
      // its timing, is the same whether or not an account exists.
      backgroundTasks: { handler: runInBackground },
      // The same origin checks in tests as in production (Better Auth skips them under NODE_ENV=test).
      disableOriginCheck: false,
      ipAddress: { ipAddressHeaders: [CLIENT_IP_HEADER] },
      defaultCookieAttributes: { httpOnly: true, sameSite: "lax" },
    },
    hooks: {
      after: createAuthMiddleware(async (ctx) => {
        if (ctx.path !== "/change-password") return;
        const returned = ctx.context.returned;
        if (!returned || isAPIError(returned) || returned instanceof Response) return;
        const { user } = returned as { user?: { email: string; name: string } };
        if (user) notifyPasswordChanged(user);
      }),
    },
    databaseHooks: {
      session: {
        create: {
          // A user of exactly one clinic acts in it from sign-in on; with several, set-active chooses.
          before: async (session) => {
            if (session.activeOrganizationId) return;
            const clinicId = await findSoleClinicId(pool, session.userId);
            if (clinicId) return { data: { ...session, activeOrganizationId: clinicId } };
          },
        },
      },
    },
    plugins: [
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
