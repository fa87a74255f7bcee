import { AsyncLocalStorage } from "node:async_hooks";
import { Queue } from "bullmq";
import type { FastifyReply } from "fastify";
import fp from "fastify-plugin";
import { Counter, Gauge } from "prom-client";
import { createRedis, EMAIL_QUEUE_NAME, emailJobOptions, emailQueuePrefix, withTimeout, type EmailJob, type RedisTopology } from "@temetro/shared";
import { isPlaceholderEmail } from "../clinics/staff-store.js";
import { EmailOutbox, type OutboxBacklog, type Queryable } from "./outbox.js";
import { ErrorCode } from "../errors.js";
import { sendError } from "../plugins/errors.js";

declare module "fastify" {
  interface FastifyInstance {
    /**
     * The one way an email leaves this service: stored in the outbox (PostgreSQL), then relayed
     * as a typed job onto the BullMQ email queue, which the mailer process delivers. Inside
     * `withEmailsStored` (every Better Auth request) the email is kept for the request's one
     * write before it answers; with `db`, a client inside a transaction, it is written in that
     * transaction; otherwise it is written now. Never waits for Redis or SMTP.
     */
    enqueueEmail: (job: EmailJob, db?: Queryable) => Promise<void>;
    /**
     * Runs `work` (a request) collecting the emails it produces, then stores them in one write,
     * awaited, before resolving: an answer given after it has its emails durable. Rejects with
     * `EmailNotStoredError` when they cannot be stored. `decoy`: the request must cost one write
     * even when it has nobody to email (resets: their timing must not tell whether the account exists).
     */
    withEmailsStored: <T>(work: () => Promise<T>, options?: { decoy?: boolean }) => Promise<T>;
    /** Inside `withEmailsStored`: this request has nobody to email but must cost the same write. */
    coverMissingEmail: () => void;
    emailQueue: Queue<EmailJob>;
    /** The outbox and its relay (tests flush it to see what was handed over). */
    emailOutbox: EmailOutbox;
  }
}

/** The emails of a request could not be stored: it must not answer as if they would go out. */
export class EmailNotStoredError extends Error {
  constructor(cause: unknown) {
    super("the request's emails could not be stored in the outbox", { cause });
    this.name = "EmailNotStoredError";
  }
}

/** Seconds a client is told to wait before retrying a request whose email could not be stored. */
export const EMAIL_RETRY_AFTER_SECONDS = 5;

/** The answer to a request whose emails could not be stored: 503, retry later. */
export function sendEmailNotStored(reply: FastifyReply) {
  reply.header("retry-after", String(EMAIL_RETRY_AFTER_SECONDS));
  return sendError(reply, 503, ErrorCode.SERVICE_UNAVAILABLE);
}

interface EmailScope {
  jobs: EmailJob[];
  decoy: boolean;
}

/** A scrape waits no longer than this for the outbox's figures; without them the series are left out. */
const BACKLOG_SCRAPE_TIMEOUT_MS = 1000;

export default fp(
  async (
    app,
    options: {
      redis: RedisTopology | string;
      /** REDIS_PREFIX. */
      prefix: string;
      outbox?: { pollIntervalMs?: number; batchSize?: number; confirmAfterMs?: number; writeTimeoutMs?: number };
    },
  ) => {
    // Only the relay uses this connection, in the background: requests write to the outbox in
    // PostgreSQL and never wait for Redis. It therefore takes BullMQ's own settings (commands wait
    // for a reconnect instead of failing), bounded by the relay's own timeouts. With the
    // fail-fast request settings, BullMQ's commands kept failing after Redis came back.
    const connection = createRedis(options.redis, "worker");
    connection.on("error", (error) => app.log.warn({ err: error.message }, "Redis (email queue) unavailable"));
    const queue = new Queue<EmailJob>(EMAIL_QUEUE_NAME, {
      connection,
      prefix: emailQueuePrefix(options.redis, options.prefix),
      defaultJobOptions: emailJobOptions,
    });
    queue.on("error", () => {}); // reported by the connection's listener above

    const { registry } = app.metrics;
    const writeFailures = new Counter({
      name: "auth_email_outbox_write_failures_total",
      help: "Writes of emails to the outbox that failed (the request answered 503, or the staff change was rolled back)",
      registers: [registry],
    });
    const handedOverAgain = new Counter({
      name: "auth_email_outbox_handed_over_again_total",
      help: "Emails handed over to the queue again because Redis had lost them undelivered (restarted without persistence)",
      registers: [registry],
    });

    const outbox = new EmailOutbox({
      pool: app.pg,
      queue,
      redis: connection,
      redisReady: () => connection.status === "ready",
      queuePrefix: options.prefix,
      log: app.log,
      onHandedOverAgain: (count) => handedOverAgain.inc(count),
      ...options.outbox,
    });
    outbox.start();

    // One read of the outbox per scrape, shared by its gauges; bounded, so a scrape never hangs
    // on PostgreSQL. Without an answer the series are left out (alert on their absence).
    let scrape: Promise<OutboxBacklog | undefined> | undefined;
    const readBacklog = () =>
      (scrape ??= withTimeout(outbox.backlog(), BACKLOG_SCRAPE_TIMEOUT_MS)
        .catch(() => undefined)
        .finally(() => setTimeout(() => (scrape = undefined), 100).unref()));
    new Gauge({
      name: "auth_email_outbox_emails",
      help: "Emails owed by the outbox: pending (not yet on the queue), handed_over (on the queue, delivery not yet confirmed)",
      labelNames: ["state"],
      registers: [registry],
      async collect() {
        this.reset();
        const backlog = await readBacklog();
        if (!backlog) return;
        this.set({ state: "pending" }, backlog.pending);
        this.set({ state: "handed_over" }, backlog.handedOver);
      },
    });
    new Gauge({
      name: "auth_email_outbox_oldest_age_seconds",
      help: "Age of the oldest email whose delivery is not yet confirmed (0 when none is owed)",
      labelNames: ["queue"],
      registers: [registry],
      async collect() {
        this.reset();
        const backlog = await readBacklog();
        if (backlog) this.set({ queue: EMAIL_QUEUE_NAME }, backlog.oldestAgeSeconds);
      },
    });

    const scopes = new AsyncLocalStorage<EmailScope>();

    async function store(jobs: EmailJob[], decoy: boolean, db?: Queryable): Promise<void> {
      try {
        if (jobs.length > 0) await outbox.write(jobs, db);
        else if (decoy) await outbox.writeDecoy(db);
      } catch (error) {
        writeFailures.inc();
        // Logged without the jobs: their links carry tokens.
        app.log.error(
          { emails: jobs.map((job) => job.kind), err: (error as Error).message },
          "email could not be stored in the outbox",
        );
        throw error;
      }
    }

    async function enqueueEmail(job: EmailJob, db?: Queryable): Promise<void> {
      const scope = db ? undefined : scopes.getStore();
      // A staff account created without an email has an address that reaches nobody: whatever
      // the email (welcome, password changed, lockout), there is no one to send it to. Inside a
      // request it still costs the write an email would (its timing tells nothing).
      if (isPlaceholderEmail(job.to)) {
        if (scope) scope.decoy = true;
        return;
      }
      if (scope) {
        scope.jobs.push(job);
        return;
      }
      try {
        await store([job], false, db);
      } catch (error) {
        throw new EmailNotStoredError(error);
      }
    }

    async function withEmailsStored<T>(work: () => Promise<T>, { decoy = false } = {}): Promise<T> {
      const scope: EmailScope = { jobs: [], decoy };
      const result = await scopes.run(scope, work);
      try {
        await store(scope.jobs, scope.decoy);
      } catch (error) {
        throw new EmailNotStoredError(error);
      }
      return result;
    }

    function coverMissingEmail(): void {
      const scope = scopes.getStore();
      if (scope) scope.decoy = true;
    }

    app.decorate("enqueueEmail", enqueueEmail);
    app.decorate("withEmailsStored", withEmailsStored);
    app.decorate("coverMissingEmail", coverMissingEmail);
    app.decorate("emailQueue", queue);
    app.decorate("emailOutbox", outbox);
    app.addHook("onClose", async () => {
      await outbox.stop();
      // One last hand-over of what is due; what Redis does not take stays owed in the table.
      await outbox.flush().catch(() => {});
      await queue.close();
      connection.disconnect();
    });
  },
  { name: "email-queue", dependencies: ["db", "metrics"] },
);
