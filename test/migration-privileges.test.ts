// `npm run migrate` with the privileges a managed PostgreSQL gives: a role that owns its database
// and may reach no other. A PostgreSQL of the test's own, since the rules changed here (CONNECT on
// the `postgres` database) are the whole server's.
import pg from "pg";
import t from "tap";
import { repositoryRoot, TEST_SECRET } from "@temetro/test-support/auth-app";
import { startCollected, typeScriptEntry } from "@temetro/test-support/processes";
import { OwnPostgres } from "./resilience/fixtures/own-postgres.js";

const postgres = await OwnPostgres.start(t);
const superuser = new pg.Client({ connectionString: postgres.url("postgres") });
await superuser.connect();
t.teardown(() => superuser.end());
// The app role of a managed offering: it logs in, creates no database, and reaches only its own.
await superuser.query(`CREATE ROLE clinic_app LOGIN NOCREATEDB`);
await superuser.query(`REVOKE CONNECT ON DATABASE postgres FROM PUBLIC`);
await superuser.query(`CREATE DATABASE clinic_auth OWNER clinic_app`);

const asApp = (database: string) => `postgres://clinic_app@127.0.0.1:${postgres.port}/${database}`;

async function runMigration(env: Record<string, string>) {
  const run = startCollected(process.execPath, typeScriptEntry(`${repositoryRoot}/services/auth/src/db/migrate-cli.ts`), {
    cwd: repositoryRoot,
    env: { PATH: process.env.PATH ?? "", BETTER_AUTH_SECRET: TEST_SECRET, LOG_FORMAT: "json", ...env },
  });
  const [code] = await run.exited;
  return { code, output: run.output() };
}

t.test("a role with access to its own database only migrates it", async (t) => {
  const denied = new pg.Client({ connectionString: asApp("postgres") });
  t.match(String(await denied.connect().catch((error: Error) => error)), /permission denied for database "postgres"/, "the role cannot reach the postgres database");
  await denied.end().catch(() => {});

  const { code, output } = await runMigration({ MIGRATION_DATABASE_URL: asApp("clinic_auth"), DATABASE_URL: asApp("clinic_auth") });
  t.equal(code, 0, output);
  t.match(output, /migrations done/);
  const inTarget = new pg.Client({ connectionString: postgres.url("clinic_auth") });
  await inTarget.connect();
  t.teardown(() => inTarget.end());
  const { rows } = await inTarget.query(`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public' AND tableowner = 'clinic_app'`);
  t.ok(rows[0].n >= 10, `the schema is in clinic_auth, owned by the role (${rows[0].n} tables)`);
});

t.test("a missing database and a role that may not create it: what to do, exit code 1, no stack trace", async (t) => {
  const { code, output } = await runMigration({ MIGRATION_DATABASE_URL: asApp("clinic_missing") });
  t.equal(code, 1);
  t.match(output, /The database \\?"clinic_missing\\?" does not exist/, output);
  t.match(output, /createdb -h 127\.0\.0\.1 -p \d+ -O clinic_app clinic_missing/);
  t.match(output, /CREATEDB/);
  t.notMatch(output, /\n\s+at /, "no stack trace");
});

t.test("a missing database, the postgres database reachable: CREATEDB is what is missing, then what it takes", async (t) => {
  await superuser.query(`GRANT CONNECT ON DATABASE postgres TO clinic_app`);
  t.teardown(async () => {
    await superuser.query(`ALTER ROLE clinic_app NOCREATEDB`);
    await superuser.query(`REVOKE CONNECT ON DATABASE postgres FROM clinic_app`);
  });
  const refused = await runMigration({ MIGRATION_DATABASE_URL: asApp("clinic_created") });
  t.equal(refused.code, 1);
  t.match(refused.output, /The database \\?"clinic_created\\?" does not exist, and clinic_app may not create it \(no CREATEDB privilege\)/, refused.output);
  t.notMatch(refused.output, /\n\s+at /, "no stack trace");

  await superuser.query(`ALTER ROLE clinic_app CREATEDB`);
  const { code, output } = await runMigration({ MIGRATION_DATABASE_URL: asApp("clinic_created") });
  t.equal(code, 0, output);
  t.match(output, /database created/);
  const { rows } = await superuser.query(`SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = 'clinic_created'`);
  t.same(rows, [{ owner: "clinic_app" }], "owned by the role that migrates it");
});
