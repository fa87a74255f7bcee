import { randomUUID } from "node:crypto";
import type { Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { Pool, PoolClient } from "pg";
import { deliveredMarkKey, emailIdempotencyKey, withTimeout, type EmailJob, type Logger } from "@temetro/shared";

/**
 * The transactional outbox of emails. PostgreSQL (which every request already depends on) is the
 * source of truth: an email is owed from the moment its row is written until the mailer has
 * confirmed delivery, and only then is the row deleted. The mailer confirms in this table: right
 * after the SMTP server accepted an email it sets the row's `delivered_at` (and, as before, a
 * delivered mark in Redis), and it checks both before sending.
 *
 * The relay, in every replica, moves owed rows onto the BullMQ queue and follows them there:
 * 1. A row not yet handed over is added to the queue, its idempotency key as the job id (a repeated
 *    hand-over is ignored by BullMQ), and marked handed over.
 * 2. A row the mailer confirmed (`delivered_at` set) is deleted at the relay's next pass, in one
 *    cheap statement, and is never claimed or handed over again, whatever Redis has lost.
 * 3. A grace period after the hand-over (`confirmAfterMs`), the relay asks Redis about a row not
 *    confirmed, for a whole batch in one MULTI: the mailer's delivered mark present (a mailer that
 *    could not reach PostgreSQL when it confirmed), or the job failed for good (it waits in
 *    BullMQ's failed set for `npm run failed-emails`): the row is deleted. The job still queued or
 *    in flight: asked again a grace period later. Neither the job nor its mark exists any more
 *    (Redis restarted empty, without persistence): the row is looked at once more in PostgreSQL
 *    (the mailer may have confirmed it meanwhile) and, still unconfirmed, handed over again. The
 *    mailer checks the confirmation and the mark before sending, so an email handed over twice
 *    still goes out once.
 *
 * Replicas share the table: each pass claims the rows it works on in one statement
 * (`FOR UPDATE SKIP LOCKED`, then `due_at` moved past a lease), so no connection is held while
 * Redis is asked, and a replica that dies mid-pass leaves its rows to another once the lease ends.
 */
export interface EmailOutboxOptions {
  pool: Pool;
  queue: Queue<EmailJob>;
  /** The queue's connection: the relay reads delivered marks and job keys through it. */
  redis: Redis;
  /**
   * Whether the queue's Redis connection is up. BullMQ waits (without a bound) for a connection
   * that is down; the relay asks first and leaves the rows where they are instead.
   */
  redisReady: () => boolean;
  /** The queue's Redis prefix: only rows written for this queue are relayed by this relay. */
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

/** A hand-over or a look into Redis that takes longer is given up (the rows stay owed). */
const REDIS_TIMEOUT_MS = 5000;
/** How long a claimed row is left to the relay that claimed it; a relay that died gives it up after this. */
const LEASE_MS = 15_000;

/** Anything that runs a query: the pool, or a client inside a transaction. */
export type Queryable = Pick<Pool | PoolClient, "query">;

/** What is owed, for the metrics. */
export interface OutboxBacklog {
  /** Emails not yet handed over to the queue. */
  pending: number;
  /** Emails on the queue whose delivery the mailer has not yet confirmed (confirmed rows wait for the next pass's delete and are not counted). */
  handedOver: number;
  /** Age of the oldest owed email in seconds (0 when nothing is owed). */
  oldestAgeSeconds: number;
}

interface ClaimedRow {
  id: string;
  job_id: string;
  job: EmailJob;
  handed_over: boolean;
}

export class EmailOutbox {
  private readonly pollIntervalMs: number;
  private readonly batchSize: number;
  private readonly confirmAfterMs: number;
  private readonly writeTimeoutMs: number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private passRequested = false;
  private stopped = true;
  private redisDown = false;

  constructor(private readonly options: EmailOutboxOptions) {
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.batchSize = options.batchSize ?? 100;
    this.confirmAfterMs = options.confirmAfterMs ?? 10_000;
    this.writeTimeoutMs = options.writeTimeoutMs ?? 2000;
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
    if (!db) this.relaySoon();
  }

  /**
   * The same write as `write` of one email, of a row that is no email: a request that has nobody
   * to email (a reset for an unknown address) costs what one that has does. The relay deletes it.
   */
  async writeDecoy(db?: Queryable): Promise<void> {
    await this.insert([`decoy-${randomUUID()}`], [{}], true, db);
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
    this.stopped = false;
    this.relaySoon();
  }

  /** Stops the relay after the pass in flight; owed emails stay in the table. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /**
   * Hands over everything due now, waiting for passes in flight. Resolves with the number of
   * emails not yet handed over (more than 0 only while Redis is unreachable).
   */
  async flush(): Promise<number> {
    await this.running;
    await this.cleanUp();
    while ((await this.relayBatch()) === this.batchSize);
    return this.waiting();
  }

  /** Emails of this queue not yet handed over to Redis. */
  async waiting(): Promise<number> {
    const { rows } = await this.options.pool.query<{ count: string }>(
      "SELECT count(*) FROM email_outbox WHERE queue_prefix = $1 AND NOT decoy AND handed_over_at IS NULL",
      [this.options.queuePrefix],
    );
    return Number(rows[0]!.count);
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
      await this.cleanUp();
      while (!this.stopped && (await this.relayBatch()) === this.batchSize);
    } catch (error) {
      // PostgreSQL unreachable: the next poll tries again. Requests report it themselves.
      this.options.log.warn({ err: (error as Error).message }, "email outbox could not be read");
    }
  }

  /**
   * Deletes what is no longer owed without asking Redis: decoys, and emails the mailer confirmed
   * delivered in PostgreSQL (each through its partial index).
   */
  private async cleanUp(): Promise<void> {
    await this.options.pool.query(
      "DELETE FROM email_outbox WHERE queue_prefix = $1 AND (decoy OR delivered_at IS NOT NULL)",
      [this.options.queuePrefix],
    );
  }

  /**
   * One batch: claim due rows nobody else holds, hand new ones over, ask Redis about the ones
   * handed over earlier, then record the outcome. Resolves with the number of rows claimed.
   */
  private async relayBatch(): Promise<number> {
    // Without Redis nothing can be handed over or confirmed: the rows stay as they are.
    if (!this.options.redisReady()) {
      this.reportRedisDown(new Error("Redis connection is not ready"));
      return 0;
    }
    const { rows } = await this.options.pool.query<ClaimedRow>(
      `UPDATE email_outbox SET due_at = now() + make_interval(secs => $3::float8 / 1000)
        WHERE id IN (
          SELECT id FROM email_outbox
           WHERE queue_prefix = $1 AND NOT decoy AND due_at <= now() AND delivered_at IS NULL
           ORDER BY due_at, id LIMIT $2
           FOR UPDATE SKIP LOCKED)
        RETURNING id, job_id, job, handed_over_at IS NOT NULL AS handed_over`,
      [this.options.queuePrefix, this.batchSize, LEASE_MS],
    );
    if (rows.length === 0) return 0;

    let settled: RedisOutcome;
    try {
      settled = await this.settleInRedis(rows);
    } catch (error) {
      this.reportRedisDown(error as Error);
      // Due again at the next poll; whatever did reach Redis is harmless (job ids, marks).
      await this.options.pool.query("UPDATE email_outbox SET due_at = now() WHERE id = ANY($1::bigint[])", [
        rows.map((row) => row.id),
      ]);
      return 0;
    }

    const { done, handedOver, waiting, lost } = settled;
    if (done.length > 0) {
      await this.options.pool.query("DELETE FROM email_outbox WHERE id = ANY($1::bigint[])", [done.map((row) => row.id)]);
    }
    if (handedOver.length > 0) {
      await this.options.pool.query(
        `UPDATE email_outbox SET handed_over_at = now(), due_at = now() + make_interval(secs => $2::float8 / 1000)
          WHERE id = ANY($1::bigint[])`,
        [handedOver.map((row) => row.id), this.confirmAfterMs],
      );
    }
    if (waiting.length > 0) {
      await this.options.pool.query(
        "UPDATE email_outbox SET due_at = now() + make_interval(secs => $2::float8 / 1000) WHERE id = ANY($1::bigint[])",
        [waiting.map((row) => row.id), this.confirmAfterMs],
      );
    }
    if (this.redisDown) {
      this.redisDown = false;
      this.options.log.info("Redis reachable again: relaying the emails that waited in the outbox");
    }
    if (lost.length > 0) {
      this.options.onHandedOverAgain?.(lost.length);
      this.options.log.warn(
        { emails: lost.length, jobIds: lost.map((row) => row.job_id) },
        "emails neither delivered nor queued any more (Redis lost them): handed over again",
      );
    }
    for (const row of handedOver) {
      if (!lost.includes(row)) this.options.log.info({ email: row.job.kind, jobId: row.job_id }, "email queued");
    }
    return rows.length;
  }

  /** Sorts claimed rows by what Redis knows of them, and hands over those it does not have. */
  private async settleInRedis(rows: ClaimedRow[]): Promise<RedisOutcome> {
    const { queue, redis, queuePrefix } = this.options;
    const fresh = rows.filter((row) => !row.handed_over);
    const followed = rows.filter((row) => row.handed_over);
    const done: ClaimedRow[] = [];
    const waiting: ClaimedRow[] = [];
    const lost: ClaimedRow[] = [];
    if (followed.length > 0) {
      // One atomic look per batch; per row: its job, its delivered mark, its place in the failed set.
      // The job is looked at before the mark: the mailer marks an email before its job is removed.
      const failedSet = queue.toKey("failed");
      const look = redis.multi();
      for (const row of followed) {
        look.exists(queue.toKey(row.job_id));
        look.exists(deliveredMarkKey(queuePrefix, row.job_id));
        look.zscore(failedSet, row.job_id);
      }
      const answers = await withTimeout(look.exec(), REDIS_TIMEOUT_MS);
      if (!answers) throw new Error("Redis discarded the delivery check");
      followed.forEach((row, index) => {
        const [jobError, jobExists] = answers[index * 3]!;
        const [markError, marked] = answers[index * 3 + 1]!;
        const [failedError, failedScore] = answers[index * 3 + 2]!;
        const error = jobError ?? markError ?? failedError;
        if (error) throw error;
        if (marked === 1 || failedScore !== null) done.push(row);
        else if (jobExists === 1) waiting.push(row);
        else lost.push(row);
      });
    }
    if (lost.length > 0) {
      // Redis has neither the job nor its mark. The mailer may have confirmed the email in
      // PostgreSQL since the claim (its Redis mark lost with the rest): such a row is done, never
      // handed over again.
      let confirmedIds: Set<string> | undefined;
      try {
        const { rows: confirmed } = await this.options.pool.query<{ id: string }>(
          "SELECT id FROM email_outbox WHERE id = ANY($1::bigint[]) AND delivered_at IS NOT NULL",
          [lost.map((row) => row.id)],
        );
        confirmedIds = new Set(confirmed.map((row) => String(row.id)));
      } catch (error) {
        // PostgreSQL cannot tell: nothing is handed over again on a guess; asked again later.
        this.options.log.warn({ err: (error as Error).message }, "email outbox could not be read");
      }
      for (const row of [...lost]) {
        if (confirmedIds && !confirmedIds.has(String(row.id))) continue;
        lost.splice(lost.indexOf(row), 1);
        (confirmedIds ? done : waiting).push(row);
      }
    }
    const handedOver = [...fresh, ...lost];
    if (handedOver.length > 0) {
      await withTimeout(
        queue.addBulk(handedOver.map((row) => ({ name: row.job.kind, data: row.job, opts: { jobId: row.job_id } }))),
        REDIS_TIMEOUT_MS,
      );
    }
    return { done, handedOver, waiting, lost };
  }

  private reportRedisDown(error: Error): void {
    if (this.redisDown) return;
    this.redisDown = true;
    // Without the jobs: their links carry tokens.
    this.options.log.warn({ err: error.message }, "Redis unreachable: emails wait in the outbox and are queued when it returns");
  }
}

interface RedisOutcome {
  /** Delivered (marked in Redis, or confirmed in PostgreSQL since the claim) or failed for good: no longer owed by the outbox. */
  done: ClaimedRow[];
  /** Put on the queue now: new rows, and rows Redis had lost. */
  handedOver: ClaimedRow[];
  /** Still queued or in flight. */
  waiting: ClaimedRow[];
  /** Neither queued nor marked delivered: Redis lost them (also in `handedOver`). */
  lost: ClaimedRow[];
}
