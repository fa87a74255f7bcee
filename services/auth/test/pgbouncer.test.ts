// The service through a real PgBouncer in transaction pooling mode (what managed PostgreSQL puts in
// front), two server connections shared by every pooled client of two replicas; the migration and
// the invalidation listener connect to PostgreSQL directly (MIGRATION_DATABASE_URL,
// DATABASE_LISTEN_URL).
import { randomUUID } from "node:crypto";
import type { FastifyInstance } from "fastify";
import pg from "pg";
import { pino } from "pino";
import t, { type Test } from "tap";
import { createPostgresPool } from "@temetro/shared";
import { buildInternalApp } from "../src/internal-app.js";
import { migrate } from "../src/db/migrate.js";
import { ownMigrations } from "../src/db/schema.js";
import { buildReplicas, buildTestApp, testConfig } from "@temetro/test-support/auth-app";
import { addMember, cookieOf, createClinic, createStaff, PASSWORD, signIn, signInByUsername, signUp } from "@temetro/test-support/auth-requests";
import { OwnPgBouncer } from "@temetro/test-support/pgbouncer";
import { waitUntil } from "@temetro/test-support/polling";

const SERVER_CONNECTIONS = 2;
const NEW_PASSWORD = "another-long-secure-password";

const database = `temetro_pgbouncer_${randomUUID().replaceAll("-", "").slice(0, 12)}`;
const directUrl = `postgres://postgres@127.0.0.1:5432/${database}`;

// The migration creates the database, directly: it is what MIGRATION_DATABASE_URL is for.
await migrate(testConfig({ DATABASE_URL: "postgres://postgres@127.0.0.1:1/unused", MIGRATION_DATABASE_URL: directUrl }), pino({ level: "silent" }));
t.teardown(async () => {
  const admin = new pg.Client({ connectionString: "postgres://postgres@127.0.0.1:5432/postgres" });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(database)} WITH (FORCE)`);
  await admin.end();
});
const bouncer = await OwnPgBouncer.start(t, { database, poolSize: SERVER_CONNECTIONS });

const throughPgBouncer = {
  DATABASE_URL: bouncer.url,
  DATABASE_LISTEN_URL: directUrl,
  MIGRATION_DATABASE_URL: directUrl,
  // Room for 50 sign-ups hashing at once on two replicas: each holds a pooled connection meanwhile.
  DATABASE_POOL_MAX: "40",
  PASSWORD_HASH_CONCURRENCY: "38",
};

const statsTotal = async (column: string) => Number((await bouncer.show("SHOW STATS"))[0]?.[column] ?? 0);

async function introspect(t: Test, app: FastifyInstance, cookie: string) {
  const internal = await buildInternalApp(app);
  t.teardown(() => internal.close());
  return (await internal.inject({ method: "POST", url: "/internal/v1/introspect", payload: { cookie } })).json();
}

t.test("the seed flows through PgBouncer, on two replicas", async (t) => {
  const transactionsBefore = await statsTotal("total_xact_count");
  const [a, b] = await buildReplicas(t, 2, { env: throughPgBouncer });
  const first = a!.app;
  const second = b!.app;

  const owner = await signUp(first);
  const clinic = await createClinic(first, owner.cookie, "Harbour Clinic");
  const member = await addMember(first, owner.cookie, clinic.id, "doctor");

  const session = await second.inject({ method: "GET", url: "/api/auth/get-session", headers: { cookie: owner.cookie } });
  t.equal(session.json().user.email, owner.email, "the other replica knows the owner's session");
  t.equal(session.json().user.emailVerified, true);
  const asMember = await second.inject({ method: "GET", url: "/api/clinic", headers: { cookie: member.cookie } });
  t.match(asMember.json(), { clinic: { id: clinic.id, name: "Harbour Clinic" }, role: "doctor" }, "the invited member acts in the clinic");

  t.match(await introspect(t, second, member.cookie), { active: true, user: { email: member.email }, clinic: { id: clinic.id, role: "doctor" } });

  // The listener, connected directly, hears every change: each replica caches answers.
  await waitUntil(() => a!.logs.text().includes("session cache on") && b!.logs.text().includes("session cache on"), "the session caches to be on", 10_000);
  const signedIn = await signIn(second, owner.email);
  t.equal(signedIn.statusCode, 200, "sign-in on the other replica");
  // Replica b caches the session; a signs it out; b must not serve it again.
  const cookie = cookieOf(signedIn);
  t.equal((await second.inject({ method: "GET", url: "/api/auth/get-session", headers: { cookie } })).json().user.email, owner.email);
  t.equal((await first.inject({ method: "POST", url: "/api/auth/sign-out", headers: { cookie } })).statusCode, 200);
  t.equal((await second.inject({ method: "GET", url: "/api/auth/get-session", headers: { cookie } })).json(), null, "signed out everywhere at once");
  t.match(await introspect(t, second, cookie), { active: false });

  t.ok((await statsTotal("total_xact_count")) > transactionsBefore + 20, "the traffic went through PgBouncer");
  t.notOk(`${a!.logs.text()}${b!.logs.text()}`.includes("session cache off"), "the cache never went off");
});

t.test("the staff flows through PgBouncer", async (t) => {
  const [a, b] = await buildReplicas(t, 2, { env: throughPgBouncer });
  const first = a!.app;
  const second = b!.app;
  const owner = await signUp(first);
  await createClinic(first, owner.cookie);

  const staff = await createStaff(first, owner.cookie, { role: "reception" });
  const signedIn = await signInByUsername(second, staff.username);
  t.equal(signedIn.statusCode, 200, "the staff account signs in with its username");
  const cookie = cookieOf(signedIn);
  t.equal((await second.inject({ method: "GET", url: "/api/clinic", headers: { cookie } })).json().code, "PASSWORD_CHANGE_REQUIRED");
  const change = await second.inject({
    method: "POST",
    url: "/api/auth/change-password",
    headers: { cookie },
    payload: { currentPassword: PASSWORD, newPassword: NEW_PASSWORD },
  });
  t.equal(change.statusCode, 200, "the initial password is replaced");
  t.equal((await first.inject({ method: "GET", url: "/api/clinic", headers: { cookie } })).json().role, "reception");

  const roleChange = await first.inject({
    method: "PATCH",
    url: `/api/staff/${staff.userId}`,
    headers: { cookie: owner.cookie },
    payload: { role: "pharmacy" },
  });
  t.equal(roleChange.statusCode, 200);
  t.equal((await second.inject({ method: "GET", url: "/api/clinic", headers: { cookie } })).json().role, "pharmacy", "the new role, on the other replica at once");

  const removal = await first.inject({ method: "DELETE", url: `/api/staff/${staff.userId}`, headers: { cookie: owner.cookie } });
  t.equal(removal.statusCode, 204);
  t.equal((await second.inject({ method: "GET", url: "/api/auth/get-session", headers: { cookie } })).json(), null, "its session ended everywhere");
  const again = await signInByUsername(second, staff.username, NEW_PASSWORD);
  t.equal(again.statusCode, 403);
  t.equal(again.json().code, "ACCOUNT_DISABLED");
});

t.test(`50 concurrent sign-ups share ${SERVER_CONNECTIONS} server connections without an error`, async (t) => {
  const replicas = await buildReplicas(t, 2, { env: throughPgBouncer });
  const transactionsBefore = await statsTotal("total_xact_count");
  const results = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => signUp(replicas[i % 2]!.app)));
  t.same(
    results.filter((result) => result.status === "rejected").map((result) => String((result as PromiseRejectedResult).reason)),
    [],
    "every sign-up answered 200",
  );

  const clients = await bouncer.show("SHOW CLIENTS");
  const servers = await bouncer.show("SHOW SERVERS");
  t.ok(servers.length <= SERVER_CONNECTIONS, `PgBouncer opened ${servers.length} server connections (at most ${SERVER_CONNECTIONS})`);
  t.ok(clients.length > 2 * SERVER_CONNECTIONS, `for ${clients.length} client connections of the replicas' pools`);
  t.ok((await statsTotal("total_xact_count")) >= transactionsBefore + 50, "each sign-up's transaction went through PgBouncer");
  const pools = await bouncer.show("SHOW POOLS");
  t.equal(pools[0]?.pool_mode, "transaction");
});

t.test("DATABASE_STATEMENT_TIMEOUT_MS: PostgreSQL cancels a long statement; through PgBouncer the pool still connects", async (t) => {
  const warnings: string[] = [];
  const log = { warn: (_fields: object, message: string) => warnings.push(message) };

  const direct = createPostgresPool({ connectionString: directUrl, max: 2, connectionTimeoutMillis: 5000, statementTimeoutMs: 200 }, log);
  t.teardown(() => direct.end());
  const cancelled = await direct.query("SELECT pg_sleep(5)").catch((error: { code?: string }) => error);
  t.equal((cancelled as { code?: string }).code, "57014", "directly: cancelled by statement_timeout");
  t.same(warnings, []);

  // PgBouncer refuses a connection that carries the statement_timeout startup parameter.
  const refused = new pg.Client({ connectionString: bouncer.url, statement_timeout: 200 });
  const refusal = await refused.connect().catch((error: Error) => error);
  t.match(String(refusal), /unsupported startup parameter: statement_timeout/);
  await refused.end().catch(() => {});

  const pooled = createPostgresPool({ connectionString: bouncer.url, max: 2, connectionTimeoutMillis: 5000, statementTimeoutMs: 200 }, log);
  t.teardown(() => pooled.end());
  const answered = await pooled.query("SELECT 1 AS one");
  t.equal(answered.rows[0].one, 1, "through PgBouncer the pool connects without the parameter");
  t.equal(warnings.length, 1, "and says once where to put the limit instead");
  t.match(warnings[0], /PgBouncer's query_timeout/);
});

t.test("an invalidation listener left on a transaction-mode PgBouncer notices it and keeps no cache", async (t) => {
  // A PgBouncer of this test's own, used by nothing but the listener: one server connection, L.
  const listenerBouncer = await OwnPgBouncer.start(t, { database, poolSize: 2 });
  const { app, logs } = await buildTestApp(t, { env: { DATABASE_URL: directUrl, DATABASE_LISTEN_URL: listenerBouncer.url } });
  await waitUntil(() => app.sessions.directory.isCaching, "the cache to be on (no sign yet that the listener is shared)", 10_000);

  // Another client of the same PgBouncer takes L inside a transaction: the listener's next read is
  // lent the other server connection, which listens to nothing.
  const other = new pg.Client({ connectionString: listenerBouncer.url });
  await other.connect();
  t.teardown(() => other.end());
  await waitUntil(async () => {
    await other.query("BEGIN");
    const { rows } = await other.query(`SELECT 'temetro_session_invalidation' = ANY (array(SELECT pg_listening_channels())) AS holds`);
    if (rows[0].holds) return true;
    await other.query("ROLLBACK");
    return false;
  }, "another client to hold the listening server connection", 30_000);

  await waitUntil(() => logs.text().includes("the invalidation listener's connection is shared"), "the warning", 30_000);
  t.equal(app.sessions.directory.isCaching, false, "every answer now comes from PostgreSQL");
  t.match(logs.text(), /set DATABASE_LISTEN_URL to PostgreSQL itself/);
  await other.query("COMMIT");

  const user = await signUp(app);
  t.equal((await app.inject({ method: "GET", url: "/api/auth/get-session", headers: { cookie: user.cookie } })).json().user.email, user.email, "and the service serves");
});

t.test("the migration itself works through PgBouncer in transaction mode: three at once, one schema", async (t) => {
  const empty = `${database}_m`;
  const admin = new pg.Client({ connectionString: "postgres://postgres@127.0.0.1:5432/postgres" });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(empty)}`);
  t.teardown(async () => {
    await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(empty)} WITH (FORCE)`);
    await admin.end();
  });
  const pooled = await OwnPgBouncer.start(t, { database: empty, poolSize: 2 });
  const config = testConfig({ DATABASE_URL: pooled.url, MIGRATION_DATABASE_URL: pooled.url });

  const results = await Promise.allSettled([1, 2, 3].map(() => migrate(config, pino({ level: "silent" }))));
  t.same(results.map((result) => (result.status === "rejected" ? String(result.reason) : "ok")), ["ok", "ok", "ok"]);
  const direct = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:5432/${empty}` });
  await direct.connect();
  t.teardown(() => direct.end());
  const { rows } = await direct.query<{ id: string }>("SELECT id FROM temetro_migration ORDER BY id");
  t.same(rows.map((row) => row.id), ownMigrations.map((migration) => migration.id), "each of the service's migrations applied once");
  const locks = await direct.query(
    `SELECT count(*)::int AS n FROM pg_locks
      WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
  );
  t.equal(locks.rows[0].n, 0, "no advisory lock left behind on a pooled server connection");
});
