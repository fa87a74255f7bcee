import { Queue, UnrecoverableError, Worker, type Job } from "bullmq";
import {
  createRedis,
  deliveredMarkKey,
  EMAIL_QUEUE_NAME,
  emailQueuePrefix,
  type EmailJob,
  type EmailKind,
  type Logger,
} from "@temetro/shared";
import type { Config } from "./config.js";
import { createDeliveryRecord } from "./delivery-record.js";
import { isEmailKind, renderEmail } from "./templates/index.js";
import { createSender, describeSmtpFailure, isPermanentSmtpFailure, type EmailSender } from "./transport.js";

/** Outcomes of one kind of email since the mailer started. */
export interface KindCounts {
  sent: number;
  retried: number;
  failed: number;
}

/** What the mailer has done since it started, kept in memory (no Redis needed to read it). */
export interface MailerCounts {
  /** Emails the SMTP server accepted (or, without SMTP, printed). */
  sent: number;
  /** Failed attempts that will be tried again (SMTP down, 4xx). */
  retried: number;
  /** Emails given up: a permanent rejection, or the last attempt failed. */
  failed: number;
  /** Jobs run again after a crash for an email that had already gone out: not sent twice. */
  duplicatesSkipped: number;
  /**
   * Emails sent whose delivery could not be confirmed in PostgreSQL (unreachable) when they went
   * out: their Redis mark records them until a retry reaches PostgreSQL (`confirmationsPending`).
   */
  confirmationsFailed: number;
  /** Emails sent without asking PostgreSQL first (unreachable): checked against the Redis mark alone. */
  checksDegraded: number;
  /** Deliveries sent whose confirmation waits for PostgreSQL to answer again (retried every second). */
  confirmationsPending: number;
  /** sent, retried and failed by kind of email; a job of no known kind counts as `unknown`. */
  byKind: Partial<Record<EmailKind | "unknown", KindCounts>>;
}

/** What the mailer has done since it started, and what waits: read by the metrics endpoint. */
export interface MailerMetrics extends MailerCounts {
  /** Jobs on the queue: waiting (or delayed for a retry), being sent, and failed (kept for a resend). */
  queue: { waiting: number; delayed: number; active: number; failed: number };
}

export interface Mailer {
  readonly sender: EmailSender;
  /** The counts alone: answers at once, even while Redis is down. */
  counts(): MailerCounts;
  /** The counts and the queue's depth (asks Redis; waits while it is unreachable). */
  metrics(): Promise<MailerMetrics>;
  /** The worker is taking jobs: false once close() began (readiness). */
  isRunning(): boolean;
  /** Resolves when PostgreSQL (where deliveries are confirmed) answers; readiness reports it as degraded, not unready. */
  pingDatabase(): Promise<void>;
  /** Stops taking emails, finishes those in flight, then closes every connection. */
  close(): Promise<void>;
}

export interface MailerOptions {
  config: Config;
  logger: Logger;
  /** Replaces the sender the configuration selects (tests). */
  sender?: EmailSender;
  /** How long close() waits for the emails in flight before it stops without them (default 20 s). */
  closeTimeoutMs?: number;
}

/**
 * How often a mailer looks for emails whose mailer died (BullMQ's stalled-job check). A job is
 * taken up again at the first check that finds its lock gone, and only if an earlier check already
 * saw it active: with checks as far apart as the lock lasts (BullMQ's default, and this service's
 * until issue 10), a crashed mailer's emails waited two to three lock durations (96 s for a 30 s
 * lock). With a check every sixth of the lock, an email in flight goes out again within the lock
 * duration plus one interval (35 s at the default 30 s). A check is one short script over the
 * active list: cheap at this rate.
 */
export function stalledCheckIntervalMs(lockDurationMs: number): number {
  return Math.ceil(lockDurationMs / 6);
}

export { deliveredMarkKey };

export function startMailer({ config, logger, sender: givenSender, closeTimeoutMs = 20_000 }: MailerOptions): Mailer {
  const log = logger.child({ component: "mailer" });
  const sender =
    givenSender ??
    createSender({ smtp: config.smtp, from: config.mailFrom, maxConnections: config.mailerConcurrency, logger: log });
  const counts = { sent: 0, retried: 0, failed: 0, duplicatesSkipped: 0, confirmationsFailed: 0, checksDegraded: 0 };
  const byKind: MailerCounts["byKind"] = {};
  let closing = false;
  function count(job: Job<EmailJob>, outcome: keyof KindCounts): void {
    counts[outcome] += 1;
    // Job data comes from Redis: a kind no template knows must not become a new label value.
    const kind = isEmailKind(job.data.kind) ? job.data.kind : "unknown";
    const ofKind = (byKind[kind] ??= { sent: 0, retried: 0, failed: 0 });
    ofKind[outcome] += 1;
  }

  // Waits for Redis to come back instead of failing: a mark must not be lost to a short outage.
  const redis = createRedis(config.redis, "worker");
  redis.on("error", (error) => log.warn({ err: error.message }, "Redis unavailable"));
  // Hash-tagged on a Cluster (emailQueuePrefix): the queue's keys and the delivered marks share one slot.
  const queuePrefix = emailQueuePrefix(config.redis, config.redisPrefix);
  const queue = new Queue<EmailJob>(EMAIL_QUEUE_NAME, { connection: redis, prefix: queuePrefix });
  queue.on("error", () => {});

  const delivered = createDeliveryRecord({ config, queuePrefix, redis, log, counts });

  // Emails this process is sending now, by job id. A Redis restarted empty loses a job while its
  // email is in flight here; the relay then hands it over again and this mailer may take it up
  // before the first send has finished and been confirmed. The second run waits for the first.
  const inFlight = new Map<string, Promise<void>>();

  async function deliver(job: Job<EmailJob>): Promise<void> {
    const jobId = job.id!;
    const earlier = inFlight.get(jobId) ?? Promise.resolve();
    const sending = earlier.catch(() => {}).then(() => send(job));
    inFlight.set(jobId, sending);
    try {
      await sending;
    } finally {
      if (inFlight.get(jobId) === sending) inFlight.delete(jobId);
    }
  }

  async function send(job: Job<EmailJob>): Promise<void> {
    const jobId = job.id!;
    const fields = { email: job.data.kind, jobId, attempt: job.attemptsMade + 1 };
    if (await delivered.alreadyDelivered(jobId)) {
      counts.duplicatesSkipped += 1;
      log.info(fields, "email already delivered: not sent again");
      return;
    }

    let rendered;
    try {
      rendered = renderEmail(job.data, { frontendUrl: config.frontendUrl });
    } catch (error) {
      count(job, "failed");
      log.error({ ...fields, err: (error as Error).message }, "email cannot be rendered");
      throw new UnrecoverableError(`cannot render the email: ${(error as Error).message}`);
    }

    try {
      await sender.send({ to: job.data.to, ...rendered, messageId: `<${jobId}@temetro>` });
    } catch (error) {
      const reason = describeSmtpFailure(error);
      if (isPermanentSmtpFailure(error)) {
        count(job, "failed");
        log.warn({ ...fields, to: job.data.to, reason }, "email refused by the SMTP server: not retried");
        throw new UnrecoverableError(reason);
      }
      const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      count(job, lastAttempt ? "failed" : "retried");
      log.warn({ ...fields, reason }, lastAttempt ? "email failed on its last attempt" : "email failed: retried later");
      throw new Error(reason);
    }

    // Between the SMTP server's acceptance and this record is the only moment a crash can still
    // lead to a second copy; everything after (completing the job) is covered by it.
    await delivered.recordDelivered(jobId, fields);
    count(job, "sent");
    log.info({ ...fields, to: job.data.to }, sender.kind === "smtp" ? "email sent" : "email printed");
  }

  const workerConnection = createRedis(config.redis, "worker");
  workerConnection.on("error", () => {}); // reported by the listener above
  const worker = new Worker<EmailJob>(EMAIL_QUEUE_NAME, deliver, {
    connection: workerConnection,
    prefix: queuePrefix,
    concurrency: config.mailerConcurrency,
    // After a crash, emails that were in flight are taken up again once their lock expires, at
    // the next stalled-job check: within lockDuration + stalledInterval.
    lockDuration: config.mailerLockDurationMs,
    stalledInterval: stalledCheckIntervalMs(config.mailerLockDurationMs),
  });
  worker.on("error", (error) => log.warn({ err: error.message }, "mailer worker error"));

  function snapshot(): MailerCounts {
    return {
      ...counts,
      confirmationsPending: delivered.pending(),
      byKind: Object.fromEntries(Object.entries(byKind).map(([kind, ofKind]) => [kind, { ...ofKind }])),
    };
  }

  return {
    sender,
    counts: snapshot,
    isRunning: () => !closing && worker.isRunning(),
    pingDatabase: () => delivered.ping(),
    async metrics() {
      const jobCounts = await queue.getJobCounts("waiting", "prioritized", "delayed", "active", "failed");
      return {
        ...snapshot(),
        queue: {
          waiting: (jobCounts.waiting ?? 0) + (jobCounts.prioritized ?? 0),
          delayed: jobCounts.delayed ?? 0,
          active: jobCounts.active ?? 0,
          failed: jobCounts.failed ?? 0,
        },
      };
    },
    async close() {
      closing = true;
      // Finish the emails in flight; but a worker whose Redis is away waits for it without end.
      // Past the bound it stops without them: their locks expire and a mailer takes them up
      // again, and the delivered marks keep an email that did go out from going out twice.
      const finished = await Promise.race([
        worker.close().then(() => true),
        new Promise<false>((resolve) => setTimeout(resolve, closeTimeoutMs, false).unref()),
      ]);
      if (!finished) {
        log.warn({ waitedMs: closeTimeoutMs }, "stopping without waiting longer for the emails in flight (Redis unreachable?)");
        // Force-disconnect every connection the worker holds (its blocking one too), so no
        // reconnect keeps the process alive.
        void worker.disconnect().catch(() => {});
        workerConnection.disconnect();
        redis.disconnect();
        void worker.close(true).catch(() => {});
      }
      sender.close();
      // One last try for the confirmations still owed (bounded by the pool's timeouts).
      await delivered.close();
      await queue.close();
      workerConnection.disconnect();
      redis.disconnect();
    },
  };
}
