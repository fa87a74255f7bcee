import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { fileURLToPath } from "node:url";
import * as z from "zod";

/**
 * Configuration of both services, read once from the environment at boot.
 * Every variable is listed in the README's configuration table; keep the two in step.
 */

const booleanFlag = z
  .enum(["true", "false", "1", "0", ""], { message: "must be true or false" })
  .transform((value) => value === "true" || value === "1");

const httpUrl = z.url({ protocol: /^https?$/, message: "must be an http(s) URL" });

const commaList = z
  .string()
  .transform((value) =>
    value
      .split(",")
      .map((item) => item.trim())
      .filter((item) => item.length > 0),
  );

/** A whole number in a range, with the range in the message. */
const boundedInt = (min: number, max: number) =>
  z.coerce
    .number({ message: `must be a whole number from ${min} to ${max}` })
    .int(`must be a whole number from ${min} to ${max}`)
    .min(min, `must be a whole number from ${min} to ${max}`)
    .max(max, `must be a whole number from ${min} to ${max}`);

/** Names Fastify's proxy-addr understands for whole address ranges. */
const proxyRangeNames = new Set(["loopback", "linklocal", "uniquelocal"]);

function isProxyAddress(entry: string): boolean {
  if (proxyRangeNames.has(entry)) return true;
  const [address, prefix, ...rest] = entry.split("/");
  const family = isIP(address ?? "");
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

/**
 * TRUST_PROXY: which hops in front of the service may say who the client is (X-Forwarded-For).
 * false (nobody), a hop count, or the proxies' addresses / CIDR ranges. `true` is refused: it
 * trusts whatever a client writes, so every client could choose its own address and escape limits.
 */
const trustProxy = z.string().transform((value, context): false | number | string[] => {
  const text = value.trim();
  if (text === "false" || text === "0") return false;
  if (/^\d+$/.test(text)) {
    const hops = Number(text);
    if (hops <= 20) return hops;
  }
  const entries = text
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
  if (text === "true" || entries.length === 0 || !entries.every(isProxyAddress)) {
    context.addIssue({
      code: "custom",
      message:
        "must be false, a hop count (1-20) or the proxies' addresses/CIDR ranges, comma-separated " +
        "(true is refused: it would let any client choose its own address)",
    });
    return z.NEVER;
  }
  return entries;
});

const envSchema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  HOST: z.string().min(1).default("0.0.0.0"),
  PORT: z.coerce
    .number({ message: "must be a port number (0-65535)" })
    .int("must be a port number (0-65535)")
    .min(0, "must be a port number (0-65535)")
    .max(65535, "must be a port number (0-65535)")
    .default(4000),
  INTERNAL_PORT: z.coerce
    .number({ message: "must be a port number (0-65535)" })
    .int("must be a port number (0-65535)")
    .min(0, "must be a port number (0-65535)")
    .max(65535, "must be a port number (0-65535)")
    .default(4001),
  // IP literals on purpose: a `localhost` lookup runs on libuv's threadpool and
  // queues behind password hashes under load (see PITFALLS).
  DATABASE_URL: z
    .url({ protocol: /^postgres(ql)?$/, message: "must be a postgres:// URL" })
    .default("postgres://postgres@127.0.0.1:5432/temetro_auth"),
  REDIS_URL: z
    .url({ protocol: /^rediss?$/, message: "must be a redis:// or rediss:// URL" })
    .default("redis://127.0.0.1:6379"),
  REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, "must be 1-64 letters, digits, '-' or '_'")
    .default("temetro"),
  BETTER_AUTH_SECRET: z.string().min(32, "must be at least 32 characters").optional(),
  BETTER_AUTH_URL: httpUrl.default("http://localhost:4000"),
  FRONTEND_URL: httpUrl.default("http://localhost:3000"),
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
  INTERNAL_TOKEN: z.string().min(32, "must be at least 32 characters").optional(),
  JWT_AUDIENCE: z.string().min(1).default("temetro"),
  JWT_KEY_ROTATION_DAYS: z.coerce
    .number({ message: "must be a number of days" })
    .int("must be a whole number of days")
    .min(0, "must be 0 (no rotation) or more")
    .default(30),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  SHUTDOWN_DELAY_SECONDS: z.coerce
    .number({ message: "must be a number of seconds (0-60)" })
    .min(0, "must be 0 or more")
    .max(60, "must be 60 or less")
    .default(0),
  TRUST_PROXY: trustProxy.default(false),
  // Requests per client address (IPv6: per /64) per RATE_LIMIT_WINDOW_SECONDS, shared by every replica.
  RATE_LIMIT_WINDOW_SECONDS: boundedInt(1, 3600).default(60),
  RATE_LIMIT_SIGN_IN: boundedInt(1, 100_000).default(5),
  RATE_LIMIT_SIGN_UP: boundedInt(1, 100_000).default(3),
  RATE_LIMIT_PASSWORD_RESET: boundedInt(1, 100_000).default(3),
  RATE_LIMIT_VERIFICATION_EMAIL: boundedInt(1, 100_000).default(3),
  RATE_LIMIT_RESET_COMPLETION: boundedInt(1, 100_000).default(10),
  RATE_LIMIT_API: boundedInt(1, 1_000_000).default(600),
  LOCKOUT_THRESHOLD: boundedInt(1, 1000).default(10),
  LOCKOUT_WINDOW_SECONDS: boundedInt(1, 24 * 3600).default(15 * 60),
  LOCKOUT_BASE_SECONDS: boundedInt(1, 24 * 3600).default(60),
  LOCKOUT_MAX_SECONDS: boundedInt(1, 7 * 24 * 3600).default(3600),
  PASSWORD_HASH_CONCURRENCY: boundedInt(1, 1024).default(8),
  DATABASE_POOL_MAX: boundedInt(3, 1000).default(10),
  DATABASE_CONNECTION_TIMEOUT_MS: boundedInt(100, 60_000).default(5000),
  // The mailer (services/mailer). No SMTP at all means: print each email to the log (development).
  SMTP_URL: z.url({ protocol: /^smtps?$/, message: "must be an smtp:// or smtps:// URL" }).optional(),
  SMTP_HOST: z.string().min(1).optional(),
  SMTP_PORT: z.coerce
    .number({ message: "must be a port number (1-65535)" })
    .int("must be a port number (1-65535)")
    .min(1, "must be a port number (1-65535)")
    .max(65535, "must be a port number (1-65535)")
    .optional(),
  SMTP_USER: z.string().min(1).optional(),
  SMTP_PASS: z.string().min(1).optional(),
  SMTP_SECURE: booleanFlag.optional(),
  MAIL_FROM: z
    .string()
    .regex(/^(?:[^\r\n<>]*<[^\s@<>]+@[^\s@<>]+>|[^\s@<>]+@[^\s@<>]+)$/, "must be an address, optionally with a name: temetro <no-reply@clinic.example>")
    .default("temetro <no-reply@localhost>"),
  MAILER_CONCURRENCY: z.coerce
    .number({ message: "must be a whole number from 1 to 100" })
    .int("must be a whole number from 1 to 100")
    .min(1, "must be a whole number from 1 to 100")
    .max(100, "must be a whole number from 1 to 100")
    .default(4),
  MAILER_LOCK_DURATION_MS: z.coerce
    .number({ message: "must be a number of milliseconds from 1000 to 600000" })
    .int("must be a number of milliseconds from 1000 to 600000")
    .min(1000, "must be a number of milliseconds from 1000 to 600000")
    .max(600_000, "must be a number of milliseconds from 1000 to 600000")
    .default(30_000),
  MAILER_HTTP_PORT: z.coerce
    .number({ message: "must be a port number (0-65535)" })
    .int("must be a port number (0-65535)")
    .min(0, "must be a port number (0-65535)")
    .max(65535, "must be a port number (0-65535)")
    .default(4002),
});

/** Where the mailer hands emails over. `undefined` (nothing configured): printed to the log. */
export type SmtpConfig =
  | { url: string }
  | { host: string; port: number; secure: boolean; user?: string; pass?: string };

export interface Config {
  nodeEnv: "development" | "production" | "test";
  host: string;
  port: number;
  /** Port of the cluster-internal listener (metrics, introspection); never exposed by the ingress. */
  internalPort: number;
  databaseUrl: string;
  redisUrl: string;
  /** Prefix of every Redis key this deployment writes (queues, limits): several deployments or test jobs can share one Redis. */
  redisPrefix: string;
  betterAuthSecret: string;
  /** Public origin of this service; every link in an email is built from it, never from a request's Host header. */
  betterAuthUrl: string;
  frontendUrl: string;
  /** Origins allowed to call the API with credentials: BETTER_AUTH_URL, FRONTEND_URL and TRUSTED_ORIGINS. */
  trustedOrigins: string[];
  requireEmailVerification: boolean;
  /**
   * Longest time a replica keeps a session or membership answer in memory. Changes are pushed to
   * every replica at once; this only bounds the damage of a lost invalidation. 0 turns caching off.
   */
  sessionCacheTtlSeconds: number;
  /** When set, callers of the internal listener's /internal routes must present it as a Bearer token. */
  internalToken: string | undefined;
  /** The `aud` claim of the short-lived tokens of GET /api/auth/token. */
  jwtAudience: string;
  /** Days between signing-key rotations (0: never); old keys stay published for a grace period. */
  jwtKeyRotationDays: number;
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  /**
   * After SIGTERM, how long the service keeps serving while failing readiness, so load balancers
   * stop sending to it before it stops accepting. On Kubernetes the preStop pause does this (0).
   */
  shutdownDelaySeconds: number;
  /** Fastify's trustProxy: false, a hop count, or the proxies' addresses. Never `true`. */
  trustProxy: false | number | string[];
  rateLimits: RateLimits;
  lockout: LockoutPolicy;
  /** Password hashes (hash or verify) one process runs at once; past it sign-in answers 503. */
  passwordHashConcurrency: number;
  /** PostgreSQL connections one process opens at most. */
  databasePoolMax: number;
  /** How long a request waits for a PostgreSQL connection (from the pool, or a new one) before 503. */
  databaseConnectionTimeoutMs: number;
  /** The mailer's SMTP server; undefined prints emails to the log instead (development default). */
  smtp: SmtpConfig | undefined;
  /** The From of every email. */
  mailFrom: string;
  /** Emails the mailer sends at once. */
  mailerConcurrency: number;
  /** How long a mailer may hold a job without renewing it: after a crash, its email is taken up again after this. */
  mailerLockDurationMs: number;
  /** Port of the mailer's HTTP listener: /health/live, /health/ready and /metrics. */
  mailerHttpPort: number;
}

/** Requests allowed per client address per window, by budget. */
export interface RateLimits {
  windowSeconds: number;
  /** Email and username sign-in together. */
  signIn: number;
  signUp: number;
  /** Requests for a reset email, by any route. */
  passwordReset: number;
  /** Requests for another verification email. */
  verificationEmail: number;
  /** Following the emailed reset link and setting the new password. */
  resetCompletion: number;
  /** Every other /api request. */
  api: number;
}

/** Per-account protection against password guessing from any number of addresses. */
export interface LockoutPolicy {
  /** Failed sign-ins on one identifier within `windowSeconds` that start a lockout. */
  threshold: number;
  windowSeconds: number;
  /** First lockout's length; each further one doubles, up to `maxSeconds`. */
  baseSeconds: number;
  maxSeconds: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

export interface LoadConfigOptions {
  /**
   * Where a development secret is kept between runs when BETTER_AUTH_SECRET is unset.
   * Git-ignored; never used when NODE_ENV=production.
   */
  devSecretFile?: string;
  /** Told about a generated development secret. */
  warn?: (message: string) => void;
  /**
   * `unused`: the process never signs anything (the mailer), so BETTER_AUTH_SECRET is neither
   * required nor generated, and `betterAuthSecret` is empty.
   */
  authSecret?: "required" | "unused";
}

/** Pooled connections kept for requests that do not hash a password (see PASSWORD_HASH_CONCURRENCY). */
export const RESERVED_CONNECTIONS = 2;

const defaultDevSecretFile = fileURLToPath(new URL("../../.better-auth-secret", import.meta.url));

export function loadConfig(
  env: Record<string, string | undefined> = process.env,
  options: LoadConfigOptions = {},
): Config {
  // An empty variable means "not set", as in most deployment tools.
  const present = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ""),
  );
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(
      // The variable's name, not zod's path into it (TRUSTED_ORIGINS.2 is still TRUSTED_ORIGINS).
      parsed.error.issues.map((issue) => `${String(issue.path[0] ?? "environment")}: ${issue.message}`),
    );
  }
  const vars = parsed.data;

  let secret = vars.BETTER_AUTH_SECRET ?? "";
  if (!secret && options.authSecret !== "unused") {
    if (vars.NODE_ENV === "production") {
      throw new ConfigError([
        "BETTER_AUTH_SECRET: required when NODE_ENV=production (32 characters or more, e.g. `openssl rand -base64 32`)",
      ]);
    }
    secret = developmentSecret(options.devSecretFile ?? defaultDevSecretFile, options.warn);
  }

  const smtp = smtpConfig(vars);

  // A sign-up holds one pooled connection (Better Auth's transaction) while its password hashes:
  // with every connection held that way, nothing else (sign-out, introspection, the outbox relay)
  // could reach the database until a hash finished.
  if (vars.PASSWORD_HASH_CONCURRENCY > vars.DATABASE_POOL_MAX - RESERVED_CONNECTIONS) {
    throw new ConfigError([
      `PASSWORD_HASH_CONCURRENCY: must be at most DATABASE_POOL_MAX - ${RESERVED_CONNECTIONS} ` +
        `(${vars.DATABASE_POOL_MAX - RESERVED_CONNECTIONS}): a request that hashes may hold a connection, ` +
        `and ${RESERVED_CONNECTIONS} stay for the requests that do not`,
    ]);
  }

  const origin = (url: string) => new URL(url).origin;
  const trustedOrigins = [
    ...new Set([origin(vars.BETTER_AUTH_URL), origin(vars.FRONTEND_URL), ...vars.TRUSTED_ORIGINS.map(origin)]),
  ];

  return {
    nodeEnv: vars.NODE_ENV,
    host: vars.HOST,
    port: vars.PORT,
    internalPort: vars.INTERNAL_PORT,
    databaseUrl: vars.DATABASE_URL,
    redisUrl: vars.REDIS_URL,
    redisPrefix: vars.REDIS_PREFIX,
    betterAuthSecret: secret,
    betterAuthUrl: vars.BETTER_AUTH_URL.replace(/\/+$/, ""),
    frontendUrl: vars.FRONTEND_URL.replace(/\/+$/, ""),
    trustedOrigins,
    requireEmailVerification: vars.REQUIRE_EMAIL_VERIFICATION,
    sessionCacheTtlSeconds: vars.SESSION_CACHE_TTL_SECONDS,
    internalToken: vars.INTERNAL_TOKEN,
    jwtAudience: vars.JWT_AUDIENCE,
    jwtKeyRotationDays: vars.JWT_KEY_ROTATION_DAYS,
    logLevel: vars.LOG_LEVEL,
    shutdownDelaySeconds: vars.SHUTDOWN_DELAY_SECONDS,
    trustProxy: vars.TRUST_PROXY,
    rateLimits: {
      windowSeconds: vars.RATE_LIMIT_WINDOW_SECONDS,
      signIn: vars.RATE_LIMIT_SIGN_IN,
      signUp: vars.RATE_LIMIT_SIGN_UP,
      passwordReset: vars.RATE_LIMIT_PASSWORD_RESET,
      verificationEmail: vars.RATE_LIMIT_VERIFICATION_EMAIL,
      resetCompletion: vars.RATE_LIMIT_RESET_COMPLETION,
      api: vars.RATE_LIMIT_API,
    },
    lockout: {
      threshold: vars.LOCKOUT_THRESHOLD,
      windowSeconds: vars.LOCKOUT_WINDOW_SECONDS,
      baseSeconds: vars.LOCKOUT_BASE_SECONDS,
      maxSeconds: Math.max(vars.LOCKOUT_MAX_SECONDS, vars.LOCKOUT_BASE_SECONDS),
    },
    passwordHashConcurrency: vars.PASSWORD_HASH_CONCURRENCY,
    databasePoolMax: vars.DATABASE_POOL_MAX,
    databaseConnectionTimeoutMs: vars.DATABASE_CONNECTION_TIMEOUT_MS,
    smtp,
    mailFrom: vars.MAIL_FROM,
    mailerConcurrency: vars.MAILER_CONCURRENCY,
    mailerLockDurationMs: vars.MAILER_LOCK_DURATION_MS,
    mailerHttpPort: vars.MAILER_HTTP_PORT,
  };
}

function smtpConfig(vars: z.infer<typeof envSchema>): SmtpConfig | undefined {
  const problems: string[] = [];
  const parts = ["SMTP_HOST", "SMTP_PORT", "SMTP_USER", "SMTP_PASS", "SMTP_SECURE"] as const;
  const partsSet = parts.filter((name) => vars[name] !== undefined);
  if (vars.SMTP_URL) {
    if (partsSet.length > 0) problems.push(`SMTP_URL: set either SMTP_URL or ${partsSet.join("/")}, not both`);
    if (problems.length > 0) throw new ConfigError(problems);
    return { url: vars.SMTP_URL };
  }
  if (partsSet.length === 0) return undefined;
  if (!vars.SMTP_HOST) problems.push(`SMTP_HOST: required when ${partsSet.join("/")} is set`);
  if ((vars.SMTP_USER === undefined) !== (vars.SMTP_PASS === undefined)) {
    problems.push(`${vars.SMTP_USER === undefined ? "SMTP_USER" : "SMTP_PASS"}: SMTP_USER and SMTP_PASS go together`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const secure = vars.SMTP_SECURE ?? vars.SMTP_PORT === 465;
  return {
    host: vars.SMTP_HOST!,
    port: vars.SMTP_PORT ?? (secure ? 465 : 587),
    secure,
    ...(vars.SMTP_USER ? { user: vars.SMTP_USER, pass: vars.SMTP_PASS! } : {}),
  };
}

function developmentSecret(file: string, warn?: (message: string) => void): string {
  if (existsSync(file)) {
    const kept = readFileSync(file, "utf8").trim();
    if (kept.length >= 32) return kept;
  }
  const generated = randomBytes(32).toString("base64url");
  writeFileSync(file, `${generated}\n`, { mode: 0o600 });
  warn?.(
    `BETTER_AUTH_SECRET is not set: generated a development secret and kept it in ${file}. ` +
      "Set BETTER_AUTH_SECRET in production (it is required when NODE_ENV=production).",
  );
  return generated;
}
