import * as z from "zod";
import { boundedInt, booleanFlag, internalTokenSettings, portNumber, readEnvironment, sharedSettings, type Environment } from "@temetro/shared";

/**
 * The mailer's configuration, read once from the environment at boot. It reads only its own
 * variables and the shared ones: the auth service's (rate limits, secrets, proxies) are not its
 * business. Every variable is listed in the README's configuration table; keep the two in step.
 */

/** Where the mailer hands emails over. `undefined` (nothing configured): printed to the log. */
export type SmtpConfig =
  | { url: string }
  | { host: string; port: number; secure: boolean; user?: string; pass?: string };

const smtpParts = ["SMTP_HOST", "SMTP_PORT", "SMTP_USER", "SMTP_PASS", "SMTP_SECURE"] as const;

const smtpSettings = z
  .object({
    SMTP_URL: z.url({ protocol: /^smtps?$/, message: "must be an smtp:// or smtps:// URL" }).optional(),
    SMTP_HOST: z.string().min(1).optional(),
    SMTP_PORT: portNumber(1).optional(),
    SMTP_USER: z.string().min(1).optional(),
    SMTP_PASS: z.string().min(1).optional(),
    SMTP_SECURE: booleanFlag.optional(),
  })
  .transform((vars, context): { smtp: SmtpConfig | undefined } => {
    const problem = (variable: string, message: string) => context.addIssue({ code: "custom", path: [variable], message });
    const partsSet = smtpParts.filter((name) => vars[name] !== undefined);
    if (vars.SMTP_URL) {
      if (partsSet.length === 0) return { smtp: { url: vars.SMTP_URL } };
      problem("SMTP_URL", `set either SMTP_URL or ${partsSet.join("/")}, not both`);
      return z.NEVER;
    }
    if (partsSet.length === 0) return { smtp: undefined };
    const halfCredentials = (vars.SMTP_USER === undefined) !== (vars.SMTP_PASS === undefined);
    if (!vars.SMTP_HOST) problem("SMTP_HOST", `required when ${partsSet.join("/")} is set`);
    if (halfCredentials) problem(vars.SMTP_USER === undefined ? "SMTP_USER" : "SMTP_PASS", "SMTP_USER and SMTP_PASS go together");
    if (!vars.SMTP_HOST || halfCredentials) return z.NEVER;
    const secure = vars.SMTP_SECURE ?? vars.SMTP_PORT === 465;
    return {
      smtp: {
        host: vars.SMTP_HOST,
        port: vars.SMTP_PORT ?? (secure ? 465 : 587),
        secure,
        ...(vars.SMTP_USER ? { user: vars.SMTP_USER, pass: vars.SMTP_PASS! } : {}),
      },
    };
  });

const deliverySettings = z
  .object({
    MAIL_FROM: z
      .string()
      .regex(
        /^(?:[^\r\n<>]*<[^\s@<>]+@[^\s@<>]+>|[^\s@<>]+@[^\s@<>]+)$/,
        "must be an address, optionally with a name: temetro <no-reply@clinic.example>",
      )
      .default("temetro <no-reply@localhost>"),
    MAILER_CONCURRENCY: boundedInt(1, 100).default(4),
    MAILER_LOCK_DURATION_MS: boundedInt(1000, 600_000, "number of milliseconds").default(30_000),
    MAILER_HTTP_PORT: portNumber().default(4002),
  })
  .transform((vars) => ({
    /** The From of every email. */
    mailFrom: vars.MAIL_FROM,
    /** Emails the mailer sends at once. */
    mailerConcurrency: vars.MAILER_CONCURRENCY,
    /** How long a mailer may hold a job without renewing it: after a crash, its email is taken up again after this. */
    mailerLockDurationMs: vars.MAILER_LOCK_DURATION_MS,
    /** Port of the mailer's HTTP listener: /health/live, /health/ready and /metrics. */
    mailerHttpPort: vars.MAILER_HTTP_PORT,
  }));

export function loadConfig(env: Environment = process.env) {
  return readEnvironment(env, [...sharedSettings, smtpSettings, deliverySettings, internalTokenSettings]);
}

export type Config = ReturnType<typeof loadConfig>;
