import { getMigrations } from "better-auth/db/migration";
import pg from "pg";
import type { Logger } from "@temetro/shared";
import type { Config } from "../config.js";
import { schemaOptions } from "../auth/schema.js";
import { ownMigrations } from "./schema.js";

// Any constant shared by every replica and the migration Job; pg_advisory_lock takes a bigint.
const MIGRATION_LOCK_KEY = 727_465_001;

/**
 * Creates the database when it is missing, then brings the schema up to date: Better Auth's
 * tables first, then the service's own (schema.ts). Idempotent, and
 * serialised by a PostgreSQL advisory lock, so several replicas (or a Job and a replica) can run it
 * at once: the first migrates, the others wait and then find nothing to do.
 */
export async function migrate(config: Config, logger: Logger): Promise<void> {
  await ensureDatabase(config.databaseUrl, logger);

  const pool = new pg.Pool({ connectionString: config.databaseUrl, max: 2 });
  // A connection cut while held (PostgreSQL restarted mid-migration) fails its query; without a
  // listener its 'error' event would end the process instead.
  pool.on("connect", (client) => client.on("error", () => {}));
  pool.on("error", () => {});
  const lock = await pool.connect();
  try {
    await lock.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_KEY]);
    const { toBeCreated, toBeAdded, runMigrations } = await getMigrations(schemaOptions(pool));
    if (toBeCreated.length === 0 && toBeAdded.length === 0) {
      logger.debug("schema is up to date");
    } else {
      await runMigrations();
      logger.info(
        { created: toBeCreated.map((t) => t.table), altered: toBeAdded.map((t) => t.table) },
        "schema migrated",
      );
    }
    await applyOwnMigrations(lock, logger);
  } finally {
    await lock.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY]).catch(() => {});
    lock.release();
    await pool.end();
  }
}

async function applyOwnMigrations(client: pg.PoolClient, logger: Logger): Promise<void> {
  await client.query(
    `CREATE TABLE IF NOT EXISTS temetro_migration (id text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
  );
  const { rows } = await client.query<{ id: string }>("SELECT id FROM temetro_migration");
  const applied = new Set(rows.map((row) => row.id));
  for (const migration of ownMigrations) {
    if (applied.has(migration.id)) continue;
    await client.query("BEGIN");
    try {
      await client.query(migration.sql);
      await client.query("INSERT INTO temetro_migration (id) VALUES ($1)", [migration.id]);
      await client.query("COMMIT");
      logger.info({ migration: migration.id }, "migration applied");
    } catch (error) {
      await client.query("ROLLBACK");
      throw error;
    }
  }
}

async function ensureDatabase(databaseUrl: string, logger: Logger): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  if (!name) return;
  url.pathname = "/postgres";
  const admin = new pg.Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    const { rowCount } = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (rowCount) return;
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
    logger.info({ database: name }, "database created");
  } catch (error) {
    // Another replica created it between our check and our CREATE.
    const code = (error as { code?: string }).code;
    if (code !== "42P04" && code !== "23505") throw error;
  } finally {
    await admin.end();
  }
}
