// `npm run migrate`: creates the database, is idempotent, and is safe when replicas run it at once.
import { randomUUID } from "node:crypto";
import pg from "pg";
import { pino } from "pino";
import t from "tap";
import { migrate } from "../src/db/migrate.js";
import { testConfig } from "@temetro/test-support/auth-app";

t.test("five concurrent migrations of a missing database create it once and leave a complete schema", async (t) => {
  const name = `temetro_migrate_${randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const databaseUrl = `postgres://postgres@127.0.0.1:5432/${name}`;
  const config = testConfig({ DATABASE_URL: databaseUrl });
  const logger = pino({ level: "silent" });

  const admin = new pg.Client({ connectionString: "postgres://postgres@127.0.0.1:5432/postgres" });
  await admin.connect();
  t.teardown(async () => {
    await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
    await admin.end();
  });

  const results = await Promise.allSettled(Array.from({ length: 5 }, () => migrate(config, logger)));
  t.same(
    results.map((result) => result.status),
    Array(5).fill("fulfilled"),
    "every replica's migration succeeds",
  );

  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  t.teardown(() => db.end());
  const tables = async () =>
    (
      await db.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`)
    ).rows.map((row) => row.table_name as string);
  const created = await tables();
  for (const table of ["account", "audit_event", "email_outbox", "invitation", "jwks", "member", "organization", "session", "temetro_migration", "user", "verification"]) {
    t.ok(created.includes(table), `table ${table}`);
  }
  const columns = async () =>
    (await db.query(`SELECT count(*)::int AS n FROM information_schema.columns WHERE table_schema = 'public'`)).rows[0].n;
  const columnCount = await columns();

  const triggers = async () =>
    (
      await db.query(
        `SELECT c.relname AS table FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
          WHERE g.tgname = 'temetro_session_invalidation' ORDER BY c.relname`,
      )
    ).rows.map((row) => row.table as string);
  t.same(await triggers(), ["member", "organization", "session", "user"], "the invalidation triggers, once each");

  await migrate(config, logger);
  t.same(await tables(), created, "running it again creates no table");
  t.equal(await columns(), columnCount, "and no column");
  t.same(await triggers(), ["member", "organization", "session", "user"], "and no trigger");
});
