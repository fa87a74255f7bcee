import { randomUUID } from "node:crypto";
import type { Queue } from "bullmq";
import type { Pool, PoolClient } from "pg";
import { emailIdempotencyKey, type EmailJob, type Logger, type RedisConnection } from "@temetro/shared";
import { OutboxRelay } from "./relay.js";

/**
 * The transactional outbox of emails. PostgreSQL (which every request already depends on) is the
 * source of truth: an email is owed from the moment its row is written until the mailer has
 * confirmed delivery, and only then is the row deleted. The mailer confirms in this table: right
 * after the SMTP server accepted an email it sets the row's `delivered_at` (and, as before, a
 * delivered mark in Redis), and it checks both before sending.
 *
 * Rows are written here (write, writeDecoy); the relay (relay.ts), which this class starts and
 * stops, moves them onto the queue and follows them there.
 */
export interface EmailOutboxOptions {
  pool: Pool;
  queue: Queue<EmailJob>;
  /** The queue's connection: the relay reads delivered marks and job keys through it. */
  redis: RedisConnection;
  /**
   * Whether the queue's Redis connection is up. BullMQ waits (without a bound) for a connection
   * that is down; the relay asks first and leaves the rows where they are instead.
   */
  redisReady: () => boolean;
  /** REDIS_PREFIX of the queue: only rows written for this queue are relayed by this relay. */
  queuePrefix: string;
  log: Pick<Logger, "debug" | "info" | "warn">;
  /** How often the relay looks for rows written by other replicas or left by an outage. */
  pollIntervalMs?: number;
  /** Rows claimed per statement. */
  batchSize?: number;
  /** How long after a hand-over the relay first asks Redis whether the email went out, and how often again while it waits. */
  confirmAfterMs?: number;
  /** How long an email write may wait (a locked table, a slow server) before it counts as failed. */
  writeTimeoutMs?: number;
  /** Called with the number of emails Redis had lost and that were handed over again (metrics). */
  onHandedOverAgain?: (count: number) => void;
}

/** Anything that runs a query: the pool, or a client inside a transaction. */
export type Queryable = Pick<Pool | PoolClient, "query">;

/** What is owed, for the metrics. */
export interface OutboxBacklog {
  pending: number;
  handedOver: number;
  oldestAgeSeconds: number;
}

export class EmailOutbox {
  private readonly writeTimeoutMs: number;
  private readonly relay: OutboxRelay;

  constructor(private readonly options: EmailOutboxOptions) {
    this.writeTimeoutMs = options.writeTimeoutMs ?? 2000;
    this.relay = new OutboxRelay(options);
  }

  /**
   * Stores emails in one INSERT (a repeated email is stored once). With `db`, a client inside the
   * caller's transaction, they commit (or not) with the caller's change, and the relay finds them
   * at its next poll; without it they are committed here, within `writeTimeoutMs`, and the relay
   * is woken.
   */
  async write(jobs: EmailJob[], db?: Queryable): Promise<void> {
    if (jobs.length === 0) return;
    await this.insert(
      jobs.map((job) => emailIdempotencyKey(job)),
      jobs,
      false,
      db,
    );
    for (const job of jobs) this.options.log.debug({ email: job.kind, jobId: emailIdempotencyKey(job) }, "email stored in the outbox");
    if (!db) this.relay.wake();
  }

  /**
   * The same write as `write` of one email, of a row that is no email: a request that has nobody
   * to email (a reset for an unknown address) costs what one that has does. The relay deletes it.
   */
  async writeDecoy(db?: Queryable): Promise<void> {
    await this.insert([`decoy-${randomUUID()}`], [{}], true, db);
    // Woken as for an email: the relay's pass (which deletes the row) then follows a request for
    // nobody exactly as it follows one that emails someone, so neither answer is slowed apart.
    if (!db) this.relay.wake();
  }

  private async insert(jobIds: string[], jobs: object[], decoy: boolean, db?: Queryable): Promise<void> {
    const sql = `INSERT INTO email_outbox (queue_prefix, job_id, job, decoy)
       SELECT $1, job_id, job, $4 FROM unnest($2::text[], $3::jsonb[]) AS email(job_id, job)
       ON CONFLICT (queue_prefix, job_id) DO NOTHING`;
    const values = [this.options.queuePrefix, jobIds, jobs.map((job) => JSON.stringify(job)), decoy];
    // Bounded: a request waits for this write before it answers.
    const timeout = `SET LOCAL statement_timeout = ${Math.max(1, Math.round(this.writeTimeoutMs))}`;
    if (db) {
      // Inside the caller's transaction: the bound applies to this statement only (a failure
      // aborts the transaction, which the caller rolls back).
      await db.query(timeout);
      await db.query(sql, values);
      await db.query("SET LOCAL statement_timeout TO DEFAULT");
      return;
    }
    const client = await this.options.pool.connect();
    try {
      await client.query("BEGIN");
      await client.query(timeout);
      await client.query(sql, values);
      await client.query("COMMIT");
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  /** Starts relaying: now, after every write, and every poll interval. */
  start(): void {
    this.relay.start();
  }

  /** Stops the relay after the pass in flight; owed emails stay in the table. */
  async stop(): Promise<void> {
    await this.relay.stop();
  }

  /** Hands over everything due now; resolves with the number of emails not yet handed over. */
  async flush(): Promise<number> {
    return this.relay.flush();
  }

  /** Emails of this queue not yet handed over to Redis. */
  async waiting(): Promise<number> {
    return this.relay.waiting();
  }

  /** What this queue's outbox owes: emails waiting for a hand-over, emails awaiting confirmation, the oldest one's age. */
  async backlog(): Promise<OutboxBacklog> {
    const { rows } = await this.options.pool.query<{ pending: string; handed_over: string; oldest_age: number | null }>(
      `SELECT count(*) FILTER (WHERE handed_over_at IS NULL) AS pending,
              count(*) FILTER (WHERE handed_over_at IS NOT NULL) AS handed_over,
              extract(epoch FROM now() - min(created_at))::float8 AS oldest_age
         FROM email_outbox WHERE queue_prefix = $1 AND NOT decoy AND delivered_at IS NULL`,
      [this.options.queuePrefix],
    );
    const row = rows[0]!;
    return { pending: Number(row.pending), handedOver: Number(row.handed_over), oldestAgeSeconds: Math.max(0, row.oldest_age ?? 0) };
  }
}
