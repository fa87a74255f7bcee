import { betterAuth, type BetterAuthOptions } from "better-auth";
import { organization } from "better-auth/plugins";
import { tokenLifetimes } from "@temetro/shared";
import { membershipHooks } from "../clinics/better-auth-hooks.js";
import { clinicPlugins } from "../clinics/better-auth-plugins.js";
import { endInitialPassword } from "../clinics/initial-password.js";
import { placeholderAddressesReserved } from "../clinics/placeholder-addresses.js";
import { accessControl, roles } from "../clinics/roles.js";
import { clinicSlugRules } from "../clinics/slug-rules.js";
import { accountLockoutKey, signInLockout } from "../sign-in/lockout.js";
import { createPasswordHasher } from "../sign-in/password-hasher.js";
import { MAX_PASSWORD_INPUT_UNITS, passwordRules } from "../sign-in/password-rules.js";
import { betterAuthSchemaGenerator } from "../api-docs/better-auth-document.js";
import { betterAuthLogger } from "./better-auth-log.js";
import type { AuthDeps } from "./deps.js";
import { displayUsernameIsUsername } from "./display-username.js";
import { createEmailSenders } from "./email-senders.js";
import { jwtTokens } from "./jwt-claims.js";
import { nameRules } from "./name-rules.js";
import { openingRules } from "./opening-rules.js";
import { requestHooks } from "./request-hooks.js";
import { endResetLinks } from "./reset-links.js";
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
  const emails = createEmailSenders({ config, pool, enqueueEmail, coverMissingEmail });
  const clinicEntrance = { pool, announce: invalidate, clientIpHeader: CLIENT_IP_HEADER };

  return {
    database: pool,
    appName: "temetro",
    baseURL: config.betterAuthUrl,
    basePath: "/api/auth",
    secret: config.betterAuthSecret,
    trustedOrigins: config.trustedOrigins,
    logger: betterAuthLogger(logger.child({ component: "better-auth" }), config.logLevel),
    // Better Auth answers its own errors (APIError) as responses. Anything else (PostgreSQL
    // restarting, the pool timing out) would become a bare 500; thrown out of the handler instead,
    // it reaches the service's error handler, which answers 503 with Retry-After (plugins/errors.ts).
    onAPIError: { throw: true },
    emailAndPassword: {
      enabled: true,
      // Better Auth counts UTF-16 units before NFKC: the rule (12-128 characters after NFKC) is
      // passwordRules' below; these only bound what Better Auth reads (sign-in included).
      minPasswordLength: 1,
      maxPasswordLength: MAX_PASSWORD_INPUT_UNITS,
      requireEmailVerification: config.requireEmailVerification,
      revokeSessionsOnPasswordReset: true,
      resetPasswordTokenExpiresIn: tokenLifetimes.resetPasswordSeconds,
      password: { hash: passwordHasher.hash, verify: passwordHasher.verify },
      // The reset password is the owner's own: an admin-set initial one no longer holds them back.
      onPasswordReset: async ({ user }) => {
        // Following the emailed link proves the mailbox: the owner's way out of a lockout.
        await accountLockout?.clear(accountLockoutKey(user.id));
        await endInitialPassword(pool, invalidate, user.id);
        await endResetLinks(pool, user.id);
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
    // A session's cookie and row last SESSION_MAX_AGE_HOURS from sign-in and are never extended;
    // the idle timeout is the session directory's, which every entrance asks first
    // (sessions/lifetime.ts).
    session: { expiresIn: config.sessionLifetime.maxAgeSeconds, disableSessionRefresh: true },
    // @fastify/rate-limit does the limiting, keyed on the address Fastify trusts (sign-in/rate-limits.ts).
    rateLimit: { enabled: false },
    advanced: {
      // No backgroundTasks: emails are stored before the answer (routes.ts), so a 200 means the
      // email is durable. The same origin checks in tests as in production (Better Auth skips them
      // under NODE_ENV=test).
      disableOriginCheck: false,
      ipAddress: { ipAddressHeaders: [CLIENT_IP_HEADER] },
      defaultCookieAttributes: { httpOnly: true, sameSite: "lax" },
      // Sibling subdomains (web app and API under one parent domain) share the session cookie.
      ...(config.cookieDomain && { crossSubDomainCookies: { enabled: true, domain: config.cookieDomain } }),
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
      openingRules({ pool, signUp: config.signUp, clinicCreation: config.clinicCreation }),
      resetRequestCover({ linkLifetimeSeconds: tokenLifetimes.resetPasswordSeconds }),
      nameRules(),
      passwordRules(),
      clinicSlugRules(),
      placeholderAddressesReserved(),
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
      // GET /api/openapi.json's part for these routes (api-docs/); serves nothing itself.
      betterAuthSchemaGenerator(),
    ],
  } satisfies BetterAuthOptions;
}

export function createAuth(deps: AuthDeps) {
  return betterAuth(authOptions(deps));
}

export type Auth = ReturnType<typeof createAuth>;
