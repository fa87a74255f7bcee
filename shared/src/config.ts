import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
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

const envSchema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  HOST: z.string().min(1).default("0.0.0.0"),
  PORT: z.coerce
    .number({ message: "must be a port number (0-65535)" })
    .int("must be a port number (0-65535)")
    .min(0, "must be a port number (0-65535)")
    .max(65535, "must be a port number (0-65535)")
    .default(4000),
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
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
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
});

/** Where the mailer hands emails over. `undefined` (nothing configured): printed to the log. */
export type SmtpConfig =
  | { url: string }
  | { host: string; port: number; secure: boolean; user?: string; pass?: string };

export interface Config {
  nodeEnv: "development" | "production" | "test";
  host: string;
  port: number;
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
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  /** The mailer's SMTP server; undefined prints emails to the log instead (development default). */
  smtp: SmtpConfig | undefined;
  /** The From of every email. */
  mailFrom: string;
  /** Emails the mailer sends at once. */
  mailerConcurrency: number;
  /** How long a mailer may hold a job without renewing it: after a crash, its email is taken up again after this. */
  mailerLockDurationMs: number;
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

  const origin = (url: string) => new URL(url).origin;
  const trustedOrigins = [
    ...new Set([origin(vars.BETTER_AUTH_URL), origin(vars.FRONTEND_URL), ...vars.TRUSTED_ORIGINS.map(origin)]),
  ];

  return {
    nodeEnv: vars.NODE_ENV,
    host: vars.HOST,
    port: vars.PORT,
    databaseUrl: vars.DATABASE_URL,
    redisUrl: vars.REDIS_URL,
    redisPrefix: vars.REDIS_PREFIX,
    betterAuthSecret: secret,
    betterAuthUrl: vars.BETTER_AUTH_URL.replace(/\/+$/, ""),
    frontendUrl: vars.FRONTEND_URL.replace(/\/+$/, ""),
    trustedOrigins,
    requireEmailVerification: vars.REQUIRE_EMAIL_VERIFICATION,
    logLevel: vars.LOG_LEVEL,
    smtp,
    mailFrom: vars.MAIL_FROM,
    mailerConcurrency: vars.MAILER_CONCURRENCY,
    mailerLockDurationMs: vars.MAILER_LOCK_DURATION_MS,
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
