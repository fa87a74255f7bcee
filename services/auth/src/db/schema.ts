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
    // Security-relevant events of a clinic (clinics/audit.ts). No foreign keys: the record outlives the
    // users and clinics it names.
    id: "0001-audit-event",
    sql: `
      CREATE TABLE audit_event (
        id bigserial PRIMARY KEY,
        clinic_id text NOT NULL,
        action text NOT NULL,
        actor_user_id text,
        target_user_id text,
        detail jsonb NOT NULL DEFAULT '{}'::jsonb,
        client_ip text,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX audit_event_clinic_newest ON audit_event (clinic_id, id DESC);
    `,
  },
  {
    // The transactional outbox of emails (email/outbox.ts): an email is written here first and
    // moved onto the BullMQ queue by the relay, so none is lost while Redis is unreachable.
    // `queue_prefix` is the REDIS_PREFIX of the queue it belongs to: deployments (or test apps)
    // sharing one database each relay only their own emails.
    id: "0002-email-outbox",
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
  {
    // An outbox row stays owed until the mailer confirmed delivery (issue 10), so a Redis that
    // loses its queue loses no email. `handed_over_at`: when the relay last put the email on the
    // queue (null: not yet). `due_at`: when a relay next acts on the row (hands it over, or asks
    // Redis whether it was delivered); a relay working on a row moves it ahead, which also keeps
    // other replicas off it. `decoy`: written by a reset request that has nobody to email, so it
    // costs the same write as one that has; the relay deletes it.
    id: "0003-email-outbox-delivery",
    sql: `
      ALTER TABLE email_outbox
        ADD COLUMN handed_over_at timestamptz,
        ADD COLUMN due_at timestamptz NOT NULL DEFAULT now(),
        ADD COLUMN decoy boolean NOT NULL DEFAULT false;
      CREATE INDEX email_outbox_due ON email_outbox (queue_prefix, due_at) WHERE NOT decoy;
      CREATE INDEX email_outbox_decoy ON email_outbox (queue_prefix) WHERE decoy;
    `,
  },
  {
    // The durable log of session-cache invalidations (sessions/invalidation.ts): a row per change
    // that a replica's cache must forget, written right after the change commits, announced to
    // every replica by NOTIFY in the same statement, and read by each replica's poll as the safety
    // net. Pruned after the cache's longest lifetime; `seq` order is commit order (the writers
    // serialise on an advisory lock).
    id: "0004-session-invalidation",
    sql: `
      CREATE TABLE session_invalidation (
        seq bigserial PRIMARY KEY,
        target text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX session_invalidation_created_at ON session_invalidation (created_at);
    `,
  },
  {
    // Invalidations written by PostgreSQL itself, in the transaction of the change they announce:
    // triggers on Better Auth's tables append the row and NOTIFY it, so a change cannot commit
    // unannounced, whatever happens to a replica or one of its connections (the change fails
    // instead when the log cannot be written). A trigger's `seq` is taken inside a transaction
    // that may commit after later ones, so `seq` order is no longer commit order: each row records
    // its transaction (`xid`), and readers ask for the rows of transactions their last snapshot
    // did not see yet (sessions/invalidation.ts). `search_path` is pinned so that the functions
    // find the log whatever the writing connection's setting.
    id: "0005-session-invalidation-triggers",
    sql: `
      ALTER TABLE session_invalidation ADD COLUMN xid xid8 NOT NULL DEFAULT pg_current_xact_id();
      CREATE INDEX session_invalidation_xid ON session_invalidation (xid);

      CREATE FUNCTION temetro_announce_invalidation(message text) RETURNS void
        LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
      DECLARE
        written bigint;
      BEGIN
        INSERT INTO session_invalidation (target) VALUES (message) RETURNING seq INTO written;
        PERFORM pg_notify('temetro_session_invalidation', written::text || ' ' || message);
      END
      $fn$;

      ${announceRowChanges("session", "session")}

      ${announceRowChanges("user", "user")}

      CREATE FUNCTION temetro_member_changed() RETURNS trigger
        LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
      BEGIN
        IF TG_OP = 'INSERT' THEN
          PERFORM temetro_announce_invalidation('user:' || NEW."userId");
        ELSE
          PERFORM temetro_announce_invalidation('user:' || OLD."userId");
          IF TG_OP = 'UPDATE' THEN
            IF NEW."userId" IS DISTINCT FROM OLD."userId" THEN
              PERFORM temetro_announce_invalidation('user:' || NEW."userId");
            END IF;
          END IF;
        END IF;
        RETURN NULL;
      END
      $fn$;
      CREATE TRIGGER temetro_session_invalidation AFTER INSERT OR UPDATE OR DELETE ON "member"
        FOR EACH ROW EXECUTE FUNCTION temetro_member_changed();

      ${announceRowChanges("organization", "clinic")}
    `,
  },
  {
    // Delivery confirmed in PostgreSQL, the source of truth (issue 10): the mailer sets
    // `delivered_at` right after the SMTP server accepted the email, and checks it before sending.
    // A Redis restarted empty loses the mailer's delivered marks but not this: the relay deletes
    // confirmed rows and never hands them over again. The partial index keeps the relay's
    // clean-up of confirmed rows cheap.
    id: "0006-email-outbox-delivered",
    sql: `
      ALTER TABLE email_outbox ADD COLUMN delivered_at timestamptz;
      CREATE INDEX email_outbox_delivered ON email_outbox (queue_prefix) WHERE delivered_at IS NOT NULL;
    `,
  },
];

/**
 * A trigger that announces every update or delete of a row of `table` as `<target>:<id>` (migration
 * 0005). The member table has a trigger of its own: its rows name a user, not themselves.
 */
function announceRowChanges(table: "session" | "user" | "organization", target: "session" | "user" | "clinic"): string {
  const fn = `temetro_${table}_changed`;
  return `CREATE FUNCTION ${fn}() RETURNS trigger
        LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
      BEGIN
        PERFORM temetro_announce_invalidation('${target}:' || OLD."id");
        RETURN NULL;
      END
      $fn$;
      CREATE TRIGGER temetro_session_invalidation AFTER UPDATE OR DELETE ON "${table}"
        FOR EACH ROW EXECUTE FUNCTION ${fn}();`;
}
