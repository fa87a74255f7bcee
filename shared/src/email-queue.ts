import { createHash } from "node:crypto";
import type { DefaultJobOptions } from "bullmq";

/**
 * The contract between the auth service (producer) and the mailer (worker): one queue, one job
 * type. A job carries only what its email needs: never a password.
 */
export const EMAIL_QUEUE_NAME = "email";

interface EmailBase {
  /** Recipient address. */
  to: string;
  /** Recipient's display name, for the greeting. */
  name: string;
}

export interface VerificationEmail extends EmailBase {
  kind: "verify-email";
  /** The link that verifies the address. */
  url: string;
}

export interface PasswordResetEmail extends EmailBase {
  kind: "reset-password";
  /** The link that leads to the reset form. */
  url: string;
}

export interface InvitationEmail extends EmailBase {
  kind: "invitation";
  inviterName: string;
  clinicName: string;
  role: string;
  /** The link that leads to accepting the invitation. */
  url: string;
}

export interface PasswordChangedEmail extends EmailBase {
  kind: "password-changed";
  /** ISO time of the change: tells the owner when, and makes each such email distinct. */
  changedAt: string;
}

export interface WelcomeEmail extends EmailBase {
  kind: "welcome";
  /** A staff account a clinic admin created: how to sign in. */
  username: string;
  clinicName: string;
  /** The frontend's sign-in page. */
  url: string;
}

export interface AccountLockedEmail extends EmailBase {
  kind: "account-locked";
  /** ISO time until which sign-in is refused. */
  lockedUntil: string;
  /** Where to reset the password if the attempts were not the owner's. */
  url: string;
}

export type EmailJob =
  | VerificationEmail
  | PasswordResetEmail
  | InvitationEmail
  | PasswordChangedEmail
  | WelcomeEmail
  | AccountLockedEmail;
export type EmailKind = EmailJob["kind"];

export const emailJobOptions: DefaultJobOptions = {
  // Transient failures (SMTP down, 4xx) are retried for about 17 minutes in all: 2 s, 4 s, ... 512 s.
  attempts: 10,
  // Jitter spreads the retries of many emails that failed together (an SMTP outage) so they do not
  // all hit the server again in the same instant when it returns.
  backoff: { type: "exponential", delay: 2000, jitter: 0.5 },
  // Job data holds links with tokens, in clear text in Redis: keep it no longer than needed.
  removeOnComplete: true,
  // Failed jobs stay for inspection and a resend (the mailer's failed-jobs command), a week at most.
  removeOnFail: { age: 7 * 24 * 3600 },
};

/**
 * A stable id for one email, used as the BullMQ jobId: handing the same email over twice (a retry
 * after a lost reply) is ignored by BullMQ instead of sending a second copy. BullMQ forbids ':'
 * in ids and all-digit ids; a kind prefix and hex avoid both.
 */
export function emailIdempotencyKey(job: EmailJob): string {
  // The whole content, keys sorted: two hand-overs of one email agree, two different emails differ.
  const canonical = JSON.stringify(job, Object.keys(job).sort());
  const digest = createHash("sha256").update(canonical).digest("hex");
  return `${job.kind}-${digest.slice(0, 40)}`;
}

/**
 * The Redis key marking one email as accepted by the SMTP server, written by the mailer. The
 * mailer checks it before sending (a job run again after a crash is not sent twice); the auth
 * service's outbox relay checks it before it forgets an email (a row stays owed until its mark
 * exists). Kept as long as a failed job is kept.
 *
 * `queuePrefix` is the queue's BullMQ prefix (`emailQueuePrefix`): on a Cluster the marks then
 * share the queue's slot, so one MULTI reads jobs and marks together.
 */
export function deliveredMarkKey(queuePrefix: string, jobId: string): string {
  return `${queuePrefix}:mailer:delivered:${jobId}`;
}

/** How long a delivered mark is kept: as long as a failed job is kept for a resend. */
export const DELIVERED_MARK_SECONDS = 7 * 24 * 3600;
