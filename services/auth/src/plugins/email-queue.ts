import { Queue } from "bullmq";
import fp from "fastify-plugin";
import {
  createRedis,
  EMAIL_QUEUE_NAME,
  emailIdempotencyKey,
  emailJobOptions,
  type EmailJob,
} from "@temetro/shared";

declare module "fastify" {
  interface FastifyInstance {
    /**
     * The one way an email leaves this service: a typed job on the BullMQ email queue, which the
     * mailer process delivers. Never waits for SMTP.
     */
    enqueueEmail: (job: EmailJob) => Promise<void>;
    /** Runs work after the response (Better Auth's background tasks); awaited on close. */
    runInBackground: (work: Promise<unknown>) => void;
    /** Resolves once every background task started so far has settled. */
    backgroundSettled: () => Promise<void>;
    emailQueue: Queue<EmailJob>;
  }
}

export default fp(
  async (app, options: { redisUrl: string; prefix: string }) => {
    const connection = createRedis(options.redisUrl, "request");
    connection.on("error", (error) => app.log.warn({ err: error.message }, "Redis (email queue) unavailable"));
    const queue = new Queue<EmailJob>(EMAIL_QUEUE_NAME, {
      connection,
      prefix: options.prefix,
      defaultJobOptions: emailJobOptions,
    });
    queue.on("error", () => {}); // reported by the connection's listener above

    async function enqueueEmail(job: EmailJob): Promise<void> {
      const jobId = emailIdempotencyKey(job);
      try {
        await queue.add(job.kind, job, { jobId });
        app.log.info({ email: job.kind, jobId }, "email queued");
      } catch (error) {
        // Logged without the job: its link carries a token.
        app.log.error({ email: job.kind, jobId, err: (error as Error).message }, "email could not be queued");
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
    app.decorate("backgroundSettled", backgroundSettled);
    app.addHook("onClose", async () => {
      await backgroundSettled();
      await queue.close();
      connection.disconnect();
    });
  },
  { name: "email-queue" },
);
