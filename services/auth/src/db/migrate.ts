import { getMigrations } from "better-auth/db/migration";
import pg from "pg";
import type { Logger } from "@temetro/shared";
import type { Config } from "../config.js";
import { schemaOptions } from "../auth/schema.js";
import { ensureDatabase } from "./ensure-database.js";
import { ownMigrations } from "./schema.js";

// Any constant shared by every replica and the migration Job; pg_advisory_xact_lock takes a bigint.
const MIGRATION_LOCK_KEY = 727_465_001;

/**
 * Creates the database when it is missing (ensure-database.ts), then brings the schema up to date:
 * Better Auth's tables first, then the service's own (schema.ts). Idempotent, and serialised by a
 * PostgreSQL advisory lock, so several replicas (or a Job and a replica) can run it at once: the
 * first migrates, the others wait and then find nothing to do.
 *
 * Everything runs in one transaction on one connection, under a transaction-scoped lock: a failed
 * migration leaves nothing half done, and no session state is needed, so it works through PgBouncer
 * in transaction mode too (a session lock taken there would stay on whichever server connection
 * PgBouncer lent, and block the next migration for good). MIGRATION_DATABASE_URL (default
 * DATABASE_URL) names PostgreSQL itself when the service's URL leads through a pooler.
 */
export async function migrate(config: Pick<Config, "migrationDatabaseUrl">, logger: Logger): Promise<void> {
  await ensureDatabase(config.migrationDatabaseUrl, logger);

  const client = new pg.Client({ connectionString: config.migrationDatabaseUrl });
  // A connection cut mid-migration (PostgreSQL restarted) fails its query; without a listener its
  // 'error' event would end the process instead.
  client.on("error", () => {});
  await client.connect();
  try {
    await client.query("BEGIN");
    await client.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK_KEY]);
    const { toBeCreated, toBeAdded, runMigrations } = await getMigrations(schemaOptions(asPool(client)));
    if (toBeCreated.length === 0 && toBeAdded.length === 0) {
      logger.debug("schema is up to date");
    } else {
      await runMigrations();
      logger.info(
        { created: toBeCreated.map((t) => t.table), altered: toBeAdded.map((t) => t.table) },
        "schema migrated",
      );
    }
    await applyOwnMigrations(client, logger);
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * The one connection of the migration as the pool Better Auth's Kysely expects: every query it makes
 * runs inside the migration's transaction. Releasing and ending are the migration's business.
 */
function asPool(client: pg.Client): pg.Pool {
  const lent = { query: client.query.bind(client), release: () => {} };
  return { connect: async () => lent, end: async () => {} } as unknown as pg.Pool;
}

async function applyOwnMigrations(client: pg.Client, logger: Logger): Promise<void> {
  await client.query(
    `CREATE TABLE IF NOT EXISTS temetro_migration (id text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
  );
  const { rows } = await client.query<{ id: string }>("SELECT id FROM temetro_migration");
  const applied = new Set(rows.map((row) => row.id));
  for (const migration of ownMigrations) {
    if (applied.has(migration.id)) continue;
    await client.query(migration.sql);
    await client.query("INSERT INTO temetro_migration (id) VALUES ($1)", [migration.id]);
    logger.info({ migration: migration.id }, "migration applied");
  }
}
