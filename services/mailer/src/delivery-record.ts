import { deliveredMarkKey, DELIVERED_MARK_SECONDS, type Logger, type RedisConnection } from "@temetro/shared";
import type { Config } from "./config.js";
import { createDeliveryConfirmations, type DeliveryConfirmations } from "./confirmations.js";

/**
 * Which emails went out, for good: confirmed in PostgreSQL (the outbox's table, which survives
 * what Redis may lose; see confirmations.ts) and marked in Redis. A delivery PostgreSQL could not
 * take is owed to it and retried every second; while PostgreSQL is away the Redis mark alone
 * decides (degraded, reported once per outage).
 */

/** How often confirmations PostgreSQL could not take are tried again, and how many per statement. */
const CONFIRMATION_RETRY_MS = 1000;
const CONFIRMATION_BATCH = 500;
/** Confirmations kept in memory for a retry at most (job ids of about 60 bytes). */
const MAX_PENDING_CONFIRMATIONS = 10_000;

export interface DeliveryRecord {
  /** Whether this email already went out: confirmed in PostgreSQL (or owed to it), or marked in Redis. */
  alreadyDelivered(jobId: string): Promise<boolean>;
  /** Records an email the SMTP server accepted; never throws for PostgreSQL (owed and retried). */
  recordDelivered(jobId: string, fields: object): Promise<void>;
  /** Deliveries whose confirmation waits for PostgreSQL. */
  pending(): number;
  /** Resolves when PostgreSQL answers. */
  ping(): Promise<void>;
  /** One last try for what is owed, then closes the PostgreSQL pool. */
  close(): Promise<void>;
}

export function createDeliveryRecord({
  config,
  queuePrefix,
  redis,
  log,
  counts,
}: {
  config: Pick<Config, "databaseUrl" | "redisPrefix">;
  /** The email queue's BullMQ prefix (emailQueuePrefix), under which the delivered marks live. */
  queuePrefix: string;
  /** The mailer's own connection, which waits for Redis to come back instead of failing. */
  redis: RedisConnection;
  log: Logger;
  /** The mailer's counters this record adds to. */
  counts: { confirmationsFailed: number; checksDegraded: number };
}): DeliveryRecord {
  // Where deliveries are confirmed for good (the outbox's table); see confirmations.ts.
  const confirmations: DeliveryConfirmations = createDeliveryConfirmations({
    databaseUrl: config.databaseUrl,
    queuePrefix: config.redisPrefix,
    logger: log,
  });
  // Reported once per outage: PostgreSQL down means every email would say it again.
  let databaseDegraded = false;
  function databaseFailed(error: unknown): void {
    if (databaseDegraded) return;
    databaseDegraded = true;
    log.warn(
      { err: (error as Error).message },
      "PostgreSQL unreachable: deliveries are checked and recorded by Redis marks alone (degraded; a Redis restarted empty may send them again)",
    );
  }
  function databaseAnswered(): void {
    if (!databaseDegraded) return;
    databaseDegraded = false;
    log.info("PostgreSQL reachable again: deliveries are confirmed in the outbox again");
  }

  // Deliveries whose confirmation PostgreSQL could not take, by job id: retried every second until
  // it answers, so that a Redis that loses the marks later does not have them sent again. Bounded:
  // past it the oldest rely on their Redis mark alone.
  const unconfirmed = new Set<string>();
  let confirmationsDropped = false;
  function owesConfirmation(jobId: string): void {
    unconfirmed.add(jobId);
    if (unconfirmed.size <= MAX_PENDING_CONFIRMATIONS) return;
    unconfirmed.delete(unconfirmed.values().next().value!);
    if (!confirmationsDropped) {
      confirmationsDropped = true;
      log.warn({ max: MAX_PENDING_CONFIRMATIONS }, "too many deliveries wait for PostgreSQL: the oldest rely on their Redis mark alone");
    }
  }
  let retrying: Promise<void> | undefined;
  async function retryConfirmations(): Promise<void> {
    const jobIds = [...unconfirmed].slice(0, CONFIRMATION_BATCH);
    try {
      await confirmations.confirm(jobIds);
    } catch (error) {
      databaseFailed(error);
      return;
    }
    for (const jobId of jobIds) unconfirmed.delete(jobId);
    if (unconfirmed.size === 0) confirmationsDropped = false;
    databaseAnswered();
    log.info({ emails: jobIds.length }, "deliveries confirmed in PostgreSQL after it answered again");
  }
  const retryTimer = setInterval(() => {
    if (unconfirmed.size === 0 || retrying) return;
    retrying = retryConfirmations().finally(() => (retrying = undefined));
  }, CONFIRMATION_RETRY_MS);
  retryTimer.unref();

  /** Whether this email already went out: confirmed in PostgreSQL (or owed to it), or marked in Redis. */
  async function alreadyDelivered(jobId: string, mark: string): Promise<boolean> {
    if (unconfirmed.has(jobId)) return true;
    try {
      const confirmed = await confirmations.isConfirmed(jobId);
      databaseAnswered();
      if (confirmed) return true;
    } catch (error) {
      // Degraded: the Redis mark alone decides, as before delivery was confirmed in PostgreSQL.
      counts.checksDegraded += 1;
      databaseFailed(error);
    }
    return (await redis.exists(mark)) === 1;
  }

  return {
    alreadyDelivered: (jobId) => alreadyDelivered(jobId, deliveredMarkKey(queuePrefix, jobId)),
    async recordDelivered(jobId, fields) {
      // PostgreSQL first: it survives what Redis may lose, and the Redis commands wait (without a
      // bound) while Redis is away.
      try {
        await confirmations.confirm([jobId]);
        databaseAnswered();
      } catch (error) {
        // The email did go out: the job must not fail (a retry would send it again). The Redis mark
        // below records it meanwhile, and the confirmation is retried until PostgreSQL answers.
        counts.confirmationsFailed += 1;
        owesConfirmation(jobId);
        databaseFailed(error);
        log.warn(
          { ...fields, err: (error as Error).message },
          "email sent but its delivery could not be confirmed in PostgreSQL: recorded in Redis meanwhile, confirmation retried",
        );
      }
      await redis.set(deliveredMarkKey(queuePrefix, jobId), "1", "EX", DELIVERED_MARK_SECONDS);
    },
    pending: () => unconfirmed.size,
    ping: () => confirmations.ping(),
    async close() {
      clearInterval(retryTimer);
      await retrying;
      if (unconfirmed.size > 0) await retryConfirmations();
      if (unconfirmed.size > 0) log.warn({ emails: unconfirmed.size }, "stopping with deliveries not confirmed in PostgreSQL: their Redis marks alone record them");
      await confirmations.close().catch(() => {});
    },
  };
}
