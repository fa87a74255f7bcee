import { createPostgresPool, type Logger } from "@temetro/shared";

/**
 * Delivery confirmed in PostgreSQL, the outbox's source of truth (issue 10). Right after the SMTP
 * server accepts an email the mailer sets its outbox row's `delivered_at`; before sending it
 * checks that the row is not already confirmed. Unlike the delivered mark in Redis, this survives
 * a Redis restarted empty: the auth service's relay deletes confirmed rows and never hands them
 * over again, and a job that comes back anyway is not sent twice.
 *
 * A row is matched by the queue's Redis prefix and the job id (the email's idempotency key). A
 * missing row is not a delivered email: `npm run failed-emails -- resend` re-queues failed jobs
 * whose rows the relay has already deleted.
 *
 * PostgreSQL is not needed to send: when it cannot be reached the mailer relies on the Redis mark
 * alone (degraded, logged and counted), as it did before, and retries the confirmations it owes
 * until PostgreSQL answers again (worker.ts).
 */
export interface DeliveryConfirmations {
  /** Whether PostgreSQL already records this email as delivered; throws when it cannot be asked. */
  isConfirmed(jobId: string): Promise<boolean>;
  /** Records these emails as delivered; throws when PostgreSQL cannot be reached. */
  confirm(jobIds: string[]): Promise<void>;
  /** Whether PostgreSQL answers (readiness reports it as degraded, never unready). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Connecting and each statement are short: an email never waits long for PostgreSQL. */
const CONNECT_TIMEOUT_MS = 2000;
const STATEMENT_TIMEOUT_MS = 2000;

export function createDeliveryConfirmations({
  databaseUrl,
  queuePrefix,
  logger,
  max = 2,
}: {
  databaseUrl: string;
  queuePrefix: string;
  logger: Logger;
  /** Connections at most: a couple are enough, each statement is one short row lookup or update. */
  max?: number;
}): DeliveryConfirmations {
  // Through PgBouncer in transaction mode too: each statement stands alone (createPostgresPool).
  const pool = createPostgresPool(
    {
      connectionString: databaseUrl,
      max,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      statementTimeoutMs: STATEMENT_TIMEOUT_MS,
      queryTimeoutMs: STATEMENT_TIMEOUT_MS + 500,
    },
    logger,
  );

  return {
    async isConfirmed(jobId) {
      const { rows } = await pool.query<{ delivered: boolean }>(
        "SELECT delivered_at IS NOT NULL AS delivered FROM email_outbox WHERE queue_prefix = $1 AND job_id = $2",
        [queuePrefix, jobId],
      );
      return rows[0]?.delivered === true;
    },
    async confirm(jobIds) {
      // due_at 'infinity': the relay keeps the row an hour as the record of the delivery, and its
      // claims, which walk the rows by due_at, then meet the owed ones first.
      await pool.query("UPDATE email_outbox SET delivered_at = now(), due_at = 'infinity' WHERE queue_prefix = $1 AND job_id = ANY($2::text[])", [
        queuePrefix,
        jobIds,
      ]);
    },
    async ping() {
      await pool.query("SELECT 1");
    },
    async close() {
      await pool.end();
    },
  };
}
