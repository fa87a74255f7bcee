import type { Pool } from "pg";
import type { EmailJob } from "@temetro/shared";
import type { CountInvitation } from "../clinics/invitation-limits.js";
import type { Config } from "../config.js";
import type { Invalidation } from "../sessions/invalidation.js";
import type { AccountLockout } from "../sign-in/lockout-counts.js";
import type { SignInOutcome } from "../sign-in/lockout.js";
import type { PasswordHasher } from "../sign-in/password-hasher.js";

/** What Better Auth's configuration (options.ts) is built from: the service's resources. */

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
   * Stores an email in the outbox. Inside a request (email/plugin.ts, `withEmailsStored`) it only
   * joins the request's emails, which are written once, before the answer.
   */
  enqueueEmail: (job: EmailJob) => Promise<void>;
  /** The request has nobody to email but must cost the same write as one that has (timing). */
  coverMissingEmail?: () => void;
  /** Bounded password hashing (one per process). */
  passwordHasher?: PasswordHasher;
  /** Per-account brute-force protection of sign-in. */
  accountLockout?: AccountLockout;
  /** Counts sign-in outcomes (metrics). */
  recordSignInOutcome?: (outcome: SignInOutcome) => void;
  /** Tells every replica's session cache that something changed (sessions/invalidation.ts). */
  invalidate: (message: Invalidation) => Promise<void>;
  /** The hourly limit of invitations per clinic and per inviter (clinics/invitation-limits.ts). */
  countInvitation: CountInvitation;
}
