import { fileURLToPath } from "node:url";
import * as z from "zod";
import { booleanFlag, boundedInt, commaList, directDatabaseSettings, httpUrl, internalTokenSettings, portNumber, readEnvironment, sharedSettings, type Environment } from "@temetro/shared";
import { capacitySettings } from "./config/capacity.js";
import { cookieDomainSettings } from "./config/cookie-domain.js";
import { productionRules } from "./config/production-rules.js";
import { developmentSecret } from "./config/secret.js";
import { signInLimitSettings } from "./config/sign-in-limits.js";
import { sessionLifetimeSettings } from "./config/session-lifetime.js";
import { trustProxySettings } from "./config/trust-proxy.js";

export { RESERVED_CONNECTIONS } from "./config/capacity.js";
export type { LockoutPolicy, RateLimits } from "./config/sign-in-limits.js";
export type { SessionLifetimePolicy } from "./config/session-lifetime.js";

/**
 * The auth service's configuration, read once from the environment at boot. It reads only its own
 * variables and the shared ones: the mailer's (SMTP_*, MAIL_FROM, MAILER_*) are not its business.
 * Every variable is listed in the README's configuration table; keep the two in step.
 */

const listenerSettings = z
  .object({
    PORT: portNumber().default(4000),
    INTERNAL_PORT: portNumber().default(4001),
    SHUTDOWN_DELAY_SECONDS: z.coerce
      .number({ message: "must be a number of seconds (0-60)" })
      .min(0, "must be 0 or more")
      .max(60, "must be 60 or less")
      .default(0),
  })
  .transform((vars) => ({
    port: vars.PORT,
    /** Port of the cluster-internal listener (metrics, introspection); never exposed by the ingress. */
    internalPort: vars.INTERNAL_PORT,
    /**
     * After SIGTERM, how long the service keeps serving while failing readiness, so load balancers
     * stop sending to it before it stops accepting. On Kubernetes the preStop pause does this (0).
     */
    shutdownDelaySeconds: vars.SHUTDOWN_DELAY_SECONDS,
  }));

const accountSettings = z
  .object({
    BETTER_AUTH_SECRET: z.string().min(32, "must be at least 32 characters").optional(),
    BETTER_AUTH_URL: httpUrl.optional(),
    TRUSTED_ORIGINS: commaList
      .pipe(z.array(z.url({ protocol: /^https?$/, message: "must be a comma-separated list of http(s) origins" })))
      .default([]),
    REQUIRE_EMAIL_VERIFICATION: booleanFlag.default(false),
    SESSION_CACHE_TTL_SECONDS: z.coerce
      .number({ message: "must be a number of seconds (0-3600)" })
      .int("must be a whole number of seconds")
      .min(0, "must be 0 or more")
      .max(3600, "must be 3600 or less")
      .default(60),
    JWT_AUDIENCE: z.string().min(1).default("temetro"),
    JWT_KEY_ROTATION_DAYS: z.coerce
      .number({ message: "must be a number of days" })
      .int("must be a whole number of days")
      .min(0, "must be 0 (no rotation) or more")
      .default(30),
  })
  .transform((vars) => ({
    /** Empty until the loader settles it (a development secret may be generated). */
    betterAuthSecret: vars.BETTER_AUTH_SECRET ?? "",
    /** Public origin of this service; every link in an email is built from it, never from a request's Host header. */
    betterAuthUrl: vars.BETTER_AUTH_URL?.replace(/\/+$/, ""),
    extraTrustedOrigins: vars.TRUSTED_ORIGINS,
    requireEmailVerification: vars.REQUIRE_EMAIL_VERIFICATION,
    /**
     * Longest time a replica keeps a session or membership answer in memory. Changes are pushed to
     * every replica at once; this only bounds the damage of a lost invalidation. 0 turns caching off.
     */
    sessionCacheTtlSeconds: vars.SESSION_CACHE_TTL_SECONDS,
    /** The `aud` claim of the short-lived tokens of GET /api/auth/token. */
    jwtAudience: vars.JWT_AUDIENCE,
    /** Days between signing-key rotations (0: never); old keys stay published for a grace period. */
    jwtKeyRotationDays: vars.JWT_KEY_ROTATION_DAYS,
  }));

const invitationSettings = z
  .object({
    INVITATIONS_PER_HOUR: boundedInt(1, 100_000).default(50),
  })
  .transform((vars) => ({
    /**
     * Emails to third parties (invitations, staff accounts with an address) one clinic may send per
     * hour, and one inviter across clinics; counted by every replica together.
     */
    invitationsPerHour: vars.INVITATIONS_PER_HOUR,
  }));

const openingSettings = z
  .object({
    SIGN_UP: z.enum(["open", "invite-only", "closed"], { message: "must be open, invite-only or closed" }).default("open"),
    CLINIC_CREATION: z.enum(["anyone", "verified", "none"], { message: "must be anyone, verified or none" }).default("anyone"),
  })
  .transform((vars) => ({
    /**
     * Who may create an account with sign-up/email: anyone, only addresses with a pending
     * invitation, or nobody (accounts then come from a clinic admin or `npm run create-owner`).
     */
    signUp: vars.SIGN_UP,
    /** Who may create a clinic: any signed-in user, those with a verified address, or nobody (`npm run create-owner` only). */
    clinicCreation: vars.CLINIC_CREATION,
  }));

export interface LoadConfigOptions {
  /**
   * Where a development secret is kept between runs when BETTER_AUTH_SECRET is unset.
   * Git-ignored; never used when NODE_ENV=production.
   */
  devSecretFile?: string;
  /** Told about a generated development secret. */
  warn?: (message: string) => void;
}

const defaultDevSecretFile = fileURLToPath(new URL("../../../.better-auth-secret", import.meta.url));

export function loadConfig(env: Environment = process.env, options: LoadConfigOptions = {}) {
  const { extraTrustedOrigins, ...config } = readEnvironment(env, [
    ...sharedSettings,
    directDatabaseSettings,
    listenerSettings,
    accountSettings,
    cookieDomainSettings,
    trustProxySettings,
    capacitySettings,
    signInLimitSettings,
    sessionLifetimeSettings,
    invitationSettings,
    openingSettings,
    internalTokenSettings,
    productionRules,
  ]);
  // Only outside production (productionRules requires the secret there).
  if (!config.betterAuthSecret) {
    config.betterAuthSecret = developmentSecret(options.devSecretFile ?? defaultDevSecretFile, options.warn);
  }
  const betterAuthUrl = config.betterAuthUrl ?? developmentUrl(config.port);
  if (config.betterAuthUrl !== undefined && config.nodeEnv === "development") {
    const mismatch = portMismatch(config.betterAuthUrl, config.port);
    if (mismatch) options.warn?.(mismatch);
  }
  const origin = (url: string) => new URL(url).origin;
  return {
    ...config,
    betterAuthUrl,
    /** Origins allowed to call the API with credentials: BETTER_AUTH_URL, FRONTEND_URL and TRUSTED_ORIGINS. */
    trustedOrigins: [...new Set([betterAuthUrl, config.frontendUrl, ...extraTrustedOrigins].map(origin))],
  };
}

/**
 * Without BETTER_AUTH_URL (development only: production requires it) links and origins follow PORT,
 * so `PORT=4100 npm start` works without a second variable. PORT=0 (a port picked at listen time)
 * keeps the usual 4000.
 */
function developmentUrl(port: number): string {
  return `http://localhost:${port === 0 ? 4000 : port}`;
}

/** A local BETTER_AUTH_URL naming another port than PORT: every emailed link would miss the service. */
function portMismatch(betterAuthUrl: string, port: number): string | undefined {
  const url = new URL(betterAuthUrl);
  if (port === 0 || !["localhost", "127.0.0.1", "[::1]"].includes(url.hostname)) return undefined;
  const urlPort = Number(url.port || (url.protocol === "https:" ? 443 : 80));
  if (urlPort === port) return undefined;
  return `BETTER_AUTH_URL (${url.origin}) names port ${urlPort} but the service listens on PORT ${port}: links in emails will not reach it (unset BETTER_AUTH_URL to follow PORT)`;
}

export type Config = ReturnType<typeof loadConfig>;
