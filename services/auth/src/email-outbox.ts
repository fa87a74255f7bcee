import type { Queue } from "bullmq";
import type { Pool } from "pg";
import { emailIdempotencyKey, type EmailJob, type Logger } from "@temetro/shared";

/**
 * The transactional outbox of emails. `write` stores an email in PostgreSQL (the source of truth,
 * which the request already depends on); the relay moves stored emails onto the BullMQ queue and
 * deletes them once Redis has them. While Redis is unreachable emails wait in the table, and the
 * relay hands them over when it returns: no email is lost, no request fails for it.
 *
 * Several replicas relay the same table safely: each pass locks the rows it takes
 * (`FOR UPDATE SKIP LOCKED`), so a row is handed over by one replica at a time, and the job id is
 * the email's idempotency key, so a hand-over repeated after a crash is ignored by BullMQ.
 */
export interface EmailOutboxOptions {
  pool: Pool;
  queue: Queue<EmailJob>;
  /**
   * Whether the queue's Redis connection is up. BullMQ waits (without a bound) for a connection
   * that is down; the relay asks first and keeps the rows instead.
   */
  redisReady: () => boolean;
  /** The queue's Redis prefix: only rows written for this queue are relayed by this relay. */
  queuePrefix: string;
  log: Pick<Logger, "debug" | "info" | "warn">;
  /** How often the relay looks for rows written by other replicas or left by an outage. */
  pollIntervalMs?: number;
  /** Rows handed over per transaction. */
  batchSize?: number;
}

/** A hand-over that takes longer is given up (the rows stay); if it lands later, its job ids make it harmless. */
const HAND_OVER_TIMEOUT_MS = 5000;

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from Redis within ${ms} ms`)), ms);
  });
  work.catch(() => {}); // a late failure after the timeout is nobody's concern
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

interface OutboxRow {
  id: string;
  job_id: string;
  job: EmailJob;
}

export class EmailOutbox {
  private readonly pollIntervalMs: number;
  private readonly batchSize: number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private passRequested = false;
  private stopped = false;
  private redisDown = false;

  constructor(private readonly options: EmailOutboxOptions) {
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.batchSize = options.batchSize ?? 100;
  }

  /** Stores an email for hand-over (a repeated email is stored once) and wakes the relay. */
  async write(job: EmailJob): Promise<void> {
    const jobId = emailIdempotencyKey(job);
    await this.options.pool.query(
      `INSERT INTO email_outbox (queue_prefix, job_id, job) VALUES ($1, $2, $3)
       ON CONFLICT (queue_prefix, job_id) DO NOTHING`,
      [this.options.queuePrefix, jobId, job],
    );
    this.options.log.debug({ email: job.kind, jobId }, "email stored in the outbox");
    this.relaySoon();
  }

  /** Starts relaying: now, after every write, and every poll interval. */
  start(): void {
    this.stopped = false;
    this.relaySoon();
  }

  /** Stops the relay after the pass in flight; emails not yet handed over stay in the table. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /**
   * Hands over everything due now, waiting for passes in flight. Resolves with the number of
   * emails still waiting (more than 0 only while Redis is unreachable).
   */
  async flush(): Promise<number> {
    await this.running;
    while ((await this.relayBatch()) === this.batchSize);
    return this.waiting();
  }

  /** Emails of this queue not yet handed over to Redis. */
  async waiting(): Promise<number> {
    const { rows } = await this.options.pool.query<{ count: string }>(
      "SELECT count(*) FROM email_outbox WHERE queue_prefix = $1",
      [this.options.queuePrefix],
    );
    return Number(rows[0]!.count);
  }

  private relaySoon(): void {
    if (this.stopped) return;
    if (this.running) {
      this.passRequested = true;
      return;
    }
    clearTimeout(this.timer);
    this.running = this.relayAll().finally(() => {
      this.running = undefined;
      if (this.stopped) return;
      if (this.passRequested) {
        this.passRequested = false;
        this.relaySoon();
        return;
      }
      this.timer = setTimeout(() => this.relaySoon(), this.pollIntervalMs);
      this.timer.unref();
    });
  }

  private async relayAll(): Promise<void> {
    try {
      while (!this.stopped && (await this.relayBatch()) === this.batchSize);
    } catch (error) {
      // PostgreSQL unreachable: the next poll tries again. Requests report it themselves.
      this.options.log.warn({ err: (error as Error).message }, "email outbox could not be read");
    }
  }

  /** One transaction: take due rows nobody else holds, put them on the queue, delete them. */
  private async relayBatch(): Promise<number> {
    const client = await this.options.pool.connect();
    try {
      await client.query("BEGIN");
      const { rows } = await client.query<OutboxRow>(
        `SELECT id, job_id, job FROM email_outbox WHERE queue_prefix = $1
         ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED`,
        [this.options.queuePrefix, this.batchSize],
      );
      if (rows.length === 0) {
        await client.query("COMMIT");
        return 0;
      }
      try {
        if (!this.options.redisReady()) throw new Error("Redis connection is not ready");
        await withTimeout(
          this.options.queue.addBulk(rows.map((row) => ({ name: row.job.kind, data: row.job, opts: { jobId: row.job_id } }))),
          HAND_OVER_TIMEOUT_MS,
        );
      } catch (error) {
        await client.query("ROLLBACK");
        if (!this.redisDown) {
          this.redisDown = true;
          // Without the jobs: their links carry tokens.
          this.options.log.warn(
            { err: (error as Error).message, waiting: rows.length },
            "Redis unreachable: emails wait in the outbox and are queued when it returns",
          );
        }
        return 0;
      }
      await client.query("DELETE FROM email_outbox WHERE id = ANY($1::bigint[])", [rows.map((row) => row.id)]);
      await client.query("COMMIT");
      if (this.redisDown) {
        this.redisDown = false;
        this.options.log.info("Redis reachable again: relaying the emails that waited in the outbox");
      }
      for (const row of rows) this.options.log.info({ email: row.job.kind, jobId: row.job_id }, "email queued");
      return rows.length;
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }
}
