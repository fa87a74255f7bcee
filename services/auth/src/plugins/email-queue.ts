import { Queue } from "bullmq";
import fp from "fastify-plugin";
import { isPlaceholderEmail } from "../db/staff.js";
import { createRedis, EMAIL_QUEUE_NAME, emailJobOptions, type EmailJob } from "@temetro/shared";
import { EmailOutbox } from "../email-outbox.js";

declare module "fastify" {
  interface FastifyInstance {
    /**
     * The one way an email leaves this service: stored in the outbox (PostgreSQL), then relayed
     * as a typed job onto the BullMQ email queue, which the mailer process delivers. Never waits
     * for SMTP, and succeeds while Redis is unreachable.
     */
    enqueueEmail: (job: EmailJob) => Promise<void>;
    /** Runs work after the response (Better Auth's background tasks); awaited on close. */
    runInBackground: (work: Promise<unknown>) => void;
    /** Resolves once every background task started so far has settled. */
    backgroundSettled: () => Promise<void>;
    emailQueue: Queue<EmailJob>;
    /** The outbox and its relay (tests flush it to see what was handed over). */
    emailOutbox: EmailOutbox;
  }
}

export default fp(
  async (
    app,
    options: { redisUrl: string; prefix: string; outbox?: { pollIntervalMs?: number; batchSize?: number } },
  ) => {
    // Only the relay uses this connection, in the background: requests write to the outbox in
    // PostgreSQL and never wait for Redis. It therefore takes BullMQ's own settings (commands wait
    // for a reconnect instead of failing), bounded by the relay's hand-over timeout. With the
    // fail-fast request settings, BullMQ's commands kept failing after Redis came back.
    const connection = createRedis(options.redisUrl, "worker");
    connection.on("error", (error) => app.log.warn({ err: error.message }, "Redis (email queue) unavailable"));
    const queue = new Queue<EmailJob>(EMAIL_QUEUE_NAME, {
      connection,
      prefix: options.prefix,
      defaultJobOptions: emailJobOptions,
    });
    queue.on("error", () => {}); // reported by the connection's listener above

    const outbox = new EmailOutbox({
      pool: app.pg,
      queue,
      redisReady: () => connection.status === "ready",
      queuePrefix: options.prefix,
      log: app.log,
      ...options.outbox,
    });
    outbox.start();

    async function enqueueEmail(job: EmailJob): Promise<void> {
      // A staff account created without an email has an address that reaches nobody: whatever
      // the email (welcome, password changed, lockout), there is no one to send it to.
      if (isPlaceholderEmail(job.to)) return;
      try {
        await outbox.write(job);
      } catch (error) {
        // Logged without the job: its link carries a token.
        app.log.error({ email: job.kind, err: (error as Error).message }, "email could not be stored in the outbox");
        throw error;
      }
    }

    const pending = new Set<Promise<unknown>>();
    function runInBackground(work: Promise<unknown>): void {
      const tracked = work.catch(() => {}).finally(() => pending.delete(tracked));
      pending.add(tracked);
    }

    app.decorate("enqueueEmail", enqueueEmail);
    app.decorate("runInBackground", runInBackground);
    async function backgroundSettled(): Promise<void> {
      await Promise.allSettled(pending);
    }

    app.decorate("emailQueue", queue);
    app.decorate("emailOutbox", outbox);
    app.decorate("backgroundSettled", backgroundSettled);
    app.addHook("onClose", async () => {
      await backgroundSettled();
      await outbox.stop();
      // One last hand-over of what this replica wrote; what Redis does not take waits in the table.
      await outbox.flush().catch(() => {});
      await queue.close();
      connection.disconnect();
    });
  },
  { name: "email-queue", dependencies: ["db"] },
);
