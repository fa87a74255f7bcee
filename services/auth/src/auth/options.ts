import { betterAuth, type BetterAuthOptions } from "better-auth";
import { organization } from "better-auth/plugins";
import { tokenLifetimes } from "@temetro/shared";
import { membershipHooks } from "../clinics/better-auth-hooks.js";
import { clinicPlugins } from "../clinics/better-auth-plugins.js";
import { endInitialPassword } from "../clinics/initial-password.js";
import { accessControl, roles } from "../clinics/roles.js";
import { accountLockoutKey, signInLockout } from "../sign-in/lockout.js";
import { createPasswordHasher, MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from "../sign-in/password-hasher.js";
import { noteLoggedFailure } from "./dependency-failures.js";
import type { AuthDeps } from "./deps.js";
import { displayUsernameIsUsername } from "./display-username.js";
import { createEmailSenders } from "./email-senders.js";
import { jwtTokens } from "./jwt-claims.js";
import { nameRules } from "./name-rules.js";
import { requestHooks } from "./request-hooks.js";
import { resetRequestCover } from "./reset-request-cover.js";
import { clinicSchema, usernamePlugin, userFields } from "./schema.js";
import { sessionHooks } from "./session-hooks.js";
import { verificationOwnership } from "./verification-ownership.js";

/**
 * Better Auth's configuration, assembled: the policy is here; the emails it sends
 * (email-senders.ts), its hooks (request-hooks.ts, session-hooks.ts), the JWT claims
 * (jwt-claims.ts) and what it stores (schema.ts) each have a module. The Fastify glue is routes.ts;
 * nothing here knows Fastify.
 */

/** Header through which the Fastify adapter hands Better Auth the client address it trusts. */
export const CLIENT_IP_HEADER = "x-temetro-client-ip";

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
  countInvitation,
}: AuthDeps) {
  const log = logger.child({ component: "better-auth" });
  const emails = createEmailSenders({ config, pool, enqueueEmail, coverMissingEmail });
  const clinicEntrance = { pool, announce: invalidate, clientIpHeader: CLIENT_IP_HEADER };

  return {
    database: pool,
    appName: "temetro",
    baseURL: config.betterAuthUrl,
    basePath: "/api/auth",
    secret: config.betterAuthSecret,
    trustedOrigins: config.trustedOrigins,
    logger: {
      level: config.logLevel === "debug" || config.logLevel === "trace" ? "debug" : "warn",
      log: (level, message, ...logged) => {
        // A database failure Better Auth only logs (and answers as a 4xx) is noted for the adapter.
        noteLoggedFailure(logged);
        log[level]({}, message);
      },
    },
    // Better Auth answers its own errors (APIError) as responses. Anything else (PostgreSQL
    // restarting, the pool timing out) would become a bare 500; thrown out of the handler instead,
    // it reaches the service's error handler, which answers 503 with Retry-After (plugins/errors.ts).
    onAPIError: { throw: true },
    emailAndPassword: {
      enabled: true,
      minPasswordLength: MIN_PASSWORD_LENGTH,
      maxPasswordLength: MAX_PASSWORD_LENGTH,
      requireEmailVerification: config.requireEmailVerification,
      revokeSessionsOnPasswordReset: true,
      resetPasswordTokenExpiresIn: tokenLifetimes.resetPasswordSeconds,
      password: { hash: passwordHasher.hash, verify: passwordHasher.verify },
      // The reset password is the owner's own: an admin-set initial one no longer holds them back.
      onPasswordReset: async ({ user }) => {
        // Following the emailed link proves the mailbox: the owner's way out of a lockout.
        await accountLockout?.clear(accountLockoutKey(user.id));
        await endInitialPassword(pool, invalidate, user.id);
        await emails.notifyPasswordChanged(user);
      },
      sendResetPassword: emails.sendResetPassword,
    },
    emailVerification: {
      sendOnSignUp: true,
      // The link confirms the address and makes the account the mailbox owner's; it signs in no
      // browser of its own accord (verification-ownership.ts).
      autoSignInAfterVerification: false,
      afterEmailVerification: verificationOwnership({ pool, invalidate, frontendUrl: config.frontendUrl }),
      expiresIn: tokenLifetimes.verifyEmailSeconds,
      sendVerificationEmail: emails.sendVerificationEmail,
    },
    user: { additionalFields: userFields },
    session: { expiresIn: 7 * 24 * 3600, updateAge: 24 * 3600 },
    // @fastify/rate-limit does the limiting, keyed on the address Fastify trusts (sign-in/rate-limits.ts).
    rateLimit: { enabled: false },
    advanced: {
      // No backgroundTasks: emails are stored before the answer (routes.ts), so a 200 means the
      // email is durable. The same origin checks in tests as in production (Better Auth skips them
      // under NODE_ENV=test).
      disableOriginCheck: false,
      ipAddress: { ipAddressHeaders: [CLIENT_IP_HEADER] },
      defaultCookieAttributes: { httpOnly: true, sameSite: "lax" },
    },
    databaseHooks: sessionHooks(pool, invalidate),
    hooks: requestHooks({ pool, invalidate, notifyPasswordChanged: emails.notifyPasswordChanged }),
    plugins: [
      signInLockout({
        lockout: accountLockout,
        pool,
        passwordHasher,
        log: logger.child({ component: "sign-in-lockout" }),
        clientIpHeader: CLIENT_IP_HEADER,
        onLockoutStarted: emails.notifyLockout,
        recordOutcome: recordSignInOutcome,
      }),
      ...clinicPlugins({ ...clinicEntrance, log: logger.child({ component: "clinic-boundaries" }), countInvitation }),
      resetRequestCover({ linkLifetimeSeconds: tokenLifetimes.resetPasswordSeconds }),
      nameRules(),
      displayUsernameIsUsername(),
      usernamePlugin(),
      organization({
        ac: accessControl,
        roles,
        creatorRole: "owner",
        invitationExpiresIn: tokenLifetimes.invitationSeconds,
        cancelPendingInvitationsOnReInvite: true,
        // Only the owner of the invited mailbox may accept: an account with that address proves it
        // by verifying it (verification-ownership.ts), never by knowing the invitation's id.
        requireEmailVerificationOnInvitation: true,
        // Every change to a clinic's members passes through clinics/membership.ts (this entrance:
        // clinics/better-auth-hooks.ts, and the clinicMembership plugin above).
        organizationHooks: membershipHooks({ pool, announce: invalidate, clientIpHeader: CLIENT_IP_HEADER }),
        schema: clinicSchema,
        sendInvitationEmail: async ({ id, email, role, organization: clinic, inviter }) =>
          emails.sendInvitation({ id, email, role, clinicName: clinic.name, inviterName: inviter.user.name }),
      }),
      jwtTokens(config, pool),
    ],
  } satisfies BetterAuthOptions;
}

export function createAuth(deps: AuthDeps) {
  return betterAuth(authOptions(deps));
}

export type Auth = ReturnType<typeof createAuth>;
