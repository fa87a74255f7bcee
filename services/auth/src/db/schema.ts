/**
 * The service's own tables, beside the ones Better Auth manages. Each migration runs once, in
 * order, inside a transaction, under the migration lock (see migrate.ts); applied ids are recorded
 * in `temetro_migration`. Append new migrations at the end; never edit one that has shipped.
 */
export interface OwnMigration {
  /** Unique and stable: `NNNN-what-it-does`. */
  id: string;
  sql: string;
}

export const ownMigrations: OwnMigration[] = [
  {
    // The transactional outbox of emails (email-outbox.ts): an email is written here first and
    // moved onto the BullMQ queue by the relay, so none is lost while Redis is unreachable.
    // `queue_prefix` is the REDIS_PREFIX of the queue it belongs to: deployments (or test apps)
    // sharing one database each relay only their own emails.
    id: "0001-email-outbox",
    sql: `
      CREATE TABLE email_outbox (
        id bigserial PRIMARY KEY,
        queue_prefix text NOT NULL,
        job_id text NOT NULL,
        job jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (queue_prefix, job_id)
      );
    `,
  },
];
