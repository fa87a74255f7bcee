import { deliveredMarkKey, withTimeout, type EmailJob } from "@temetro/shared";
import type { EmailOutboxOptions } from "./outbox.js";

/** A hand-over or a look into Redis that takes longer is given up (the rows stay owed). */
const REDIS_TIMEOUT_MS = 5000;
/** How long a claimed row is left to the relay that claimed it; a relay that died gives it up after this. */
const LEASE_MS = 15_000;
/**
 * How long a delivered row is kept, as the record that its email went out. A Redis failover
 * (Sentinel, Cluster) may promote a replica that still holds the job in an earlier state
 * (waiting, active, or delayed for a retry, at most 512 s) without the delivered mark the old
 * primary took after the promotion: the job runs again, and only this row tells the mailer that
 * the email already went out. Longer than any retry delay, and than a failover.
 */
export const DELIVERED_ROWS_KEPT_MS = 3600 * 1000;
/** Delivered rows past DELIVERED_ROWS_KEPT_MS are deleted this often (decoys at every pass). */
const DELIVERED_CLEANUP_EVERY_MS = 60_000;

interface ClaimedRow {
  id: string;
  job_id: string;
  job: EmailJob;
  handed_over: boolean;
}

/**
 * The relay of the email outbox (outbox.ts), in every replica: it moves owed rows onto the
 * BullMQ queue and follows them there:
 * 1. A row not yet handed over is added to the queue, its idempotency key as the job id (a repeated
 *    hand-over is ignored by BullMQ), and marked handed over.
 * 2. A row the mailer confirmed (`delivered_at` set) is never claimed or handed over again,
 *    whatever Redis has lost, and is kept DELIVERED_ROWS_KEPT_MS as the record of the delivery
 *    (a job a Redis failover brings back finds it), then deleted.
 * 3. A grace period after the hand-over (`confirmAfterMs`), the relay asks Redis about a row not
 *    confirmed, for a whole batch in one MULTI: the mailer's delivered mark present (a mailer that
 *    could not reach PostgreSQL when it confirmed), or the job failed for good (it waits in
 *    BullMQ's failed set for `npm run failed-emails`): the row is marked delivered (kept as the
 *    record, as in 2) or deleted (failed). The job still queued or
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
export class OutboxRelay {
  private readonly pollIntervalMs: number;
  private readonly batchSize: number;
  private readonly confirmAfterMs: number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private passRequested = false;
  private stopped = true;
  private redisDown = false;
  private deliveredCleanedAt = 0;

  constructor(private readonly options: EmailOutboxOptions) {
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.batchSize = options.batchSize ?? 100;
    this.confirmAfterMs = options.confirmAfterMs ?? 10_000;
  }

  start(): void {
    this.stopped = false;
    this.wake();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

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

  /** A pass now, or right after the one in flight: an email was just written. */
  wake(): void {
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
        this.wake();
        return;
      }
      this.timer = setTimeout(() => this.wake(), this.pollIntervalMs);
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
   * Deletes what is no longer owed or needed without asking Redis: decoys, and rows delivered more
   * than DELIVERED_ROWS_KEPT_MS ago (each through its partial index).
   */
  private async cleanUp(): Promise<void> {
    await this.options.pool.query("DELETE FROM email_outbox WHERE queue_prefix = $1 AND decoy", [this.options.queuePrefix]);
    if (Date.now() - this.deliveredCleanedAt < DELIVERED_CLEANUP_EVERY_MS) return;
    await this.options.pool.query(
      "DELETE FROM email_outbox WHERE queue_prefix = $1 AND delivered_at < now() - make_interval(secs => $2::float8 / 1000)",
      [this.options.queuePrefix, DELIVERED_ROWS_KEPT_MS],
    );
    this.deliveredCleanedAt = Date.now();
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

    const { delivered, failed, handedOver, waiting, lost } = settled;
    if (delivered.length > 0) {
      // Kept as the record of the delivery (DELIVERED_ROWS_KEPT_MS); confirmed now if the mailer could not.
      await this.options.pool.query("UPDATE email_outbox SET delivered_at = coalesce(delivered_at, now()), due_at = 'infinity' WHERE id = ANY($1::bigint[])", [
        delivered.map((row) => row.id),
      ]);
    }
    if (failed.length > 0) {
      // No record: a missing row is no delivery, so that `failed-emails resend` sends it (confirmations.ts).
      await this.options.pool.query("DELETE FROM email_outbox WHERE id = ANY($1::bigint[])", [failed.map((row) => row.id)]);
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
    const { queue, redis } = this.options;
    const fresh = rows.filter((row) => !row.handed_over);
    const followed = rows.filter((row) => row.handed_over);
    const delivered: ClaimedRow[] = [];
    const failed: ClaimedRow[] = [];
    const waiting: ClaimedRow[] = [];
    const lost: ClaimedRow[] = [];
    if (followed.length > 0) {
      // One atomic look per batch; per row: its job, its delivered mark, its place in the failed set.
      // The marks live under the queue's own prefix (emailQueuePrefix): one slot on a Cluster.
      // The job is looked at before the mark: the mailer marks an email before its job is removed.
      const failedSet = queue.toKey("failed");
      const look = redis.multi();
      for (const row of followed) {
        look.exists(queue.toKey(row.job_id));
        look.exists(deliveredMarkKey(queue.opts.prefix!, row.job_id));
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
        if (marked === 1) delivered.push(row);
        else if (failedScore !== null) failed.push(row);
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
        (confirmedIds ? delivered : waiting).push(row);
      }
    }
    const handedOver = [...fresh, ...lost];
    if (handedOver.length > 0) {
      await withTimeout(
        queue.addBulk(handedOver.map((row) => ({ name: row.job.kind, data: row.job, opts: { jobId: row.job_id } }))),
        REDIS_TIMEOUT_MS,
      );
    }
    return { delivered, failed, handedOver, waiting, lost };
  }

  private reportRedisDown(error: Error): void {
    if (this.redisDown) return;
    this.redisDown = true;
    // Without the jobs: their links carry tokens.
    this.options.log.warn({ err: error.message }, "Redis unreachable: emails wait in the outbox and are queued when it returns");
  }
}

interface RedisOutcome {
  /** Delivered (marked in Redis, or confirmed in PostgreSQL since the claim): no longer owed, kept as the record. */
  delivered: ClaimedRow[];
  /** Failed for good (in BullMQ's failed set): no longer owed by the outbox. */
  failed: ClaimedRow[];
  /** Put on the queue now: new rows, and rows Redis had lost. */
  handedOver: ClaimedRow[];
  /** Still queued or in flight. */
  waiting: ClaimedRow[];
  /** Neither queued nor marked delivered: Redis lost them (also in `handedOver`). */
  lost: ClaimedRow[];
}
