// Whatever Redis and the connections do, no replica answers for a session after it has ended:
// two replicas keep answers in memory, and a sign-out on one shows on the other at once.
import type { FastifyInstance } from "fastify";
import { Redis } from "ioredis";
import pg from "pg";
import t, { type Test } from "tap";
import { buildInternalApp } from "../src/internal-app.js";
import { buildReplicas, buildTestApp, type TestApp, testDatabaseUrl, testRedisUrl } from "@temetro/test-support/auth-app";
import { addMember, cookieOf, createClinic, PASSWORD, signIn, signUp } from "@temetro/test-support/auth-requests";
import { eventually, waitUntil } from "@temetro/test-support/polling";
import { SpareRedis } from "@temetro/test-support/spare-redis";
import { SessionDirectory } from "../src/sessions/directory.js";
import { InvalidationChannel } from "../src/sessions/invalidation.js";
import { sessionLifetime } from "../src/sessions/lifetime.js";

/** What a user of each replica sees for a cookie: get-session, the data API, introspection. */
async function viewOf(app: FastifyInstance, internal: FastifyInstance, cookie: string) {
  const session = (await app.inject({ method: "GET", url: "/api/auth/get-session", headers: { cookie } })).json();
  const api = (await app.inject({ method: "GET", url: "/api/clinic", headers: { cookie } })).statusCode;
  const introspection = (await internal.inject({ method: "POST", url: "/internal/v1/introspect", payload: { cookie } })).json();
  return { signedIn: session !== null, api, active: introspection.active as boolean };
}

const signedOut = (view: { signedIn: boolean; api: number; active: boolean }) => !view.signedIn && view.api === 401 && !view.active;

/** A connection of its own to the test database, as an operator's psql would be. */
async function adminClient(t: Test): Promise<pg.Client> {
  const admin = new pg.Client({ connectionString: testDatabaseUrl });
  admin.on("error", () => {});
  await admin.connect();
  t.teardown(() => admin.end());
  return admin;
}

async function sessionIdOf(app: FastifyInstance, cookie: string): Promise<string> {
  return (await app.inject({ method: "GET", url: "/api/auth/get-session", headers: { cookie } })).json().session.id;
}

async function twoReplicas(t: Test, redisUrl: string) {
  const replicas = await buildReplicas(t, 2, { env: { REDIS_URL: redisUrl } });
  const withInternal = await Promise.all(
    replicas.map(async (replica: TestApp) => {
      const internal = await buildInternalApp(replica.app);
      t.teardown(() => internal.close());
      return { ...replica, internal };
    }),
  );
  await waitUntil(() => withInternal.every(({ app }) => app.sessions.directory.isCaching), "both replicas to cache sessions");
  return withInternal as [(typeof withInternal)[0], (typeof withInternal)[0]];
}

/** Signs up on A and has B keep the session in memory (asked twice: the second answer is B's cache). */
async function sessionKeptByB(a: FastifyInstance, b: { app: FastifyInstance; internal: FastifyInstance }) {
  const { cookie } = await signUp(a);
  for (let i = 0; i < 2; i++) {
    const view = await viewOf(b.app, b.internal, cookie);
    if (!view.signedIn || !view.active || view.api !== 403) throw new Error(`session not active on B: ${JSON.stringify(view)}`);
  }
  return cookie;
}

/** Closes Redis connections by client name (what a network blip does to them), as Redis itself would. */
async function killRedisClients(url: string, name: string): Promise<number> {
  const admin = new Redis(url);
  try {
    const list = (await admin.client("LIST")) as string;
    const ids = list
      .split("\n")
      .filter((line) => line.includes(` name=${name} `))
      .map((line) => /\bid=(\d+)/.exec(line)![1]!);
    for (const id of ids) await admin.client("KILL", "ID", id);
    return ids.length;
  } finally {
    admin.disconnect();
  }
}

t.test("a sign-out on A while A cannot publish to Redis (B still subscribed) ends the session on B at once", async (t) => {
  const redis = await SpareRedis.start(t);
  const [a, b] = await twoReplicas(t, redis.url);
  const cookie = await sessionKeptByB(a.app, b);

  // Until issue 10 the sign-out was published on a Redis connection of its own: with that one
  // connection cut, the publish failed, was never retried, and B kept the session for 60 s.
  await killRedisClients(redis.url, "temetro-invalidation-pub");
  t.equal((await a.app.inject({ method: "POST", url: "/api/auth/sign-out", headers: { cookie } })).statusCode, 200);

  const view = await eventually(() => viewOf(b.app, b.internal, cookie), signedOut, 1000);
  t.same(view, { signedIn: false, api: 401, active: false }, "B: get-session null, /api 401, introspection inactive");
});

t.test("Redis down and restarted empty: a session ended during and after the outage is ended on every replica", async (t) => {
  const redis = await SpareRedis.start(t);
  const [a, b] = await twoReplicas(t, redis.url);
  const duringOutage = await sessionKeptByB(a.app, b);
  const afterOutage = await sessionKeptByB(a.app, b);

  await redis.down();
  t.equal((await a.app.inject({ method: "POST", url: "/api/auth/sign-out", headers: { cookie: duringOutage } })).statusCode, 200);
  t.same(await eventually(() => viewOf(b.app, b.internal, duringOutage), signedOut, 1000), { signedIn: false, api: 401, active: false }, "ended on B during the outage");

  await redis.up(); // empty: nothing of before survived
  await waitUntil(() => a.app.limiterStore.redis.status === "ready" && b.app.limiterStore.redis.status === "ready", "both replicas to reconnect to Redis");
  t.equal((await a.app.inject({ method: "POST", url: "/api/auth/sign-out", headers: { cookie: afterOutage } })).statusCode, 200);
  t.same(await eventually(() => viewOf(b.app, b.internal, afterOutage), signedOut, 1000), { signedIn: false, api: 401, active: false }, "ended on B after Redis came back");
  t.same(await viewOf(b.app, b.internal, duringOutage), { signedIn: false, api: 401, active: false }, "and the first one stays ended");
  t.ok(b.app.sessions.directory.isCaching, "B caches again");
});

t.test("a replica that loses its invalidation connection stops caching, and sees the changes made meanwhile once back", async (t) => {
  const redis = await SpareRedis.start(t);
  const [a, b] = await twoReplicas(t, redis.url);
  const cookie = await sessionKeptByB(a.app, b);

  // Both replicas' connections to the log end (a PostgreSQL restart or a network cut does this).
  const admin = await adminClient(t);
  await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'temetro-invalidation' AND datname = current_database()`);
  await waitUntil(() => !b.app.sessions.directory.isCaching, "B to stop caching");

  t.equal((await a.app.inject({ method: "POST", url: "/api/auth/sign-out", headers: { cookie } })).statusCode, 200);
  t.same(await viewOf(b.app, b.internal, cookie), { signedIn: false, api: 401, active: false }, "B reads PostgreSQL meanwhile");

  await waitUntil(() => a.app.sessions.directory.isCaching && b.app.sessions.directory.isCaching, "both replicas to cache again");
  t.same(await viewOf(b.app, b.internal, cookie), { signedIn: false, api: 401, active: false }, "and B still says signed out");
});

t.test("an invalidation whose notification never arrives is read from the log within about a second", async (t) => {
  const redis = await SpareRedis.start(t);
  const [a, b] = await twoReplicas(t, redis.url);
  const cookie = await sessionKeptByB(a.app, b);
  const { id: sessionId } = (await a.app.inject({ method: "GET", url: "/api/auth/get-session", headers: { cookie } })).json().session;

  // What a writer whose NOTIFY is lost (or a pooler that drops LISTEN) leaves: the change and its
  // log row, and no notification.
  const admin = await adminClient(t);
  await admin.query("SET session_replication_role = replica"); // the triggers stay silent: no row, no NOTIFY
  await admin.query(`DELETE FROM "session" WHERE "id" = $1`, [sessionId]);
  await admin.query(`INSERT INTO session_invalidation (target) VALUES ($1)`, [`session:${sessionId}`]);
  const started = Date.now();
  const view = await eventually(() => viewOf(b.app, b.internal, cookie), signedOut, 3000);
  t.same(view, { signedIn: false, api: 401, active: false });
  t.ok(Date.now() - started < 2000, `noticed after ${Date.now() - started} ms`);
});

// ---- What PostgreSQL announces by itself (migration 0005): the log row and its NOTIFY are written
// by triggers in the transaction of the change, not by the replica after the commit.

const SIGNED_OUT = { signedIn: false, api: 401, active: false };

t.test("with A's invalidation connection gone for good, a sign-out on A ends the session on B at once", async (t) => {
  const [a, b] = await twoReplicas(t, testRedisUrl);
  const cookie = await sessionKeptByB(a.app, b);

  // What a connection that cannot be reopened (max_connections reached while the pool's
  // connections work, a connect timeout under load) leaves: A neither listens nor has a writer.
  // Until migration 0005 the log row was written on that connection only, so it waited in A's
  // memory while B kept the session for SESSION_CACHE_TTL_SECONDS.
  await a.app.sessions.invalidations.close();
  t.equal((await a.app.inject({ method: "POST", url: "/api/auth/sign-out", headers: { cookie } })).statusCode, 200);
  t.same(await eventually(() => viewOf(b.app, b.internal, cookie), signedOut, 1000), SIGNED_OUT, "B: ended");
});

t.test("a change committed outside the service (an operator's SQL) is announced with its commit", async (t) => {
  const [a, b] = await twoReplicas(t, testRedisUrl);
  const ended = await sessionKeptByB(a.app, b);
  const disabled = await sessionKeptByB(a.app, b);
  const admin = await adminClient(t);

  await admin.query(`DELETE FROM "session" WHERE "id" = $1`, [await sessionIdOf(a.app, ended)]);
  t.same(await eventually(() => viewOf(b.app, b.internal, ended), signedOut, 1000), SIGNED_OUT, "a deleted session ends on B");

  const { userId } = (await a.app.inject({ method: "GET", url: "/api/auth/get-session", headers: { cookie: disabled } })).json().session;
  await admin.query(`UPDATE "user" SET "disabled" = true WHERE "id" = $1`, [userId]);
  // (get-session is Better Auth's own answer, which does not look at `disabled`: the guard and
  // introspection are what refuse a disabled account.)
  const refused = await eventually(() => viewOf(b.app, b.internal, disabled), (view) => view.api === 401 && !view.active, 1000);
  t.match(refused, { api: 401, active: false }, "a disabled account's session ends on B");
});

t.test("a log that cannot be written fails the change with it: no replica serves what the database no longer holds", async (t) => {
  const [a, b] = await twoReplicas(t, testRedisUrl);
  const cookie = await sessionKeptByB(a.app, b);
  const sessionId = await sessionIdOf(a.app, cookie);
  const admin = await adminClient(t);
  const sessionExists = async () => (await admin.query(`SELECT 1 FROM "session" WHERE "id" = $1`, [sessionId])).rowCount === 1;

  // Every write of the log fails, forever (the reviewer's poison: a constraint no row satisfies).
  await admin.query(`ALTER TABLE session_invalidation ADD CONSTRAINT poison CHECK (false) NOT VALID`);
  try {
    const signOut = await a.app.inject({ method: "POST", url: "/api/auth/sign-out", headers: { cookie } });
    await new Promise((resolve) => setTimeout(resolve, 300)); // time for a notification, were there one
    const exists = await sessionExists();
    const view = await viewOf(b.app, b.internal, cookie);
    t.equal(view.active, exists, `B answers what PostgreSQL holds (session ${exists ? "kept" : "deleted"}, B says ${view.active ? "active" : "inactive"})`);
    t.equal(view.signedIn, exists, "get-session too");
    // Better Auth's sign-out logs a failed deletion and clears the cookie anyway (200): the session
    // stays valid in PostgreSQL, and so on every replica, until a sign-out commits.
    t.ok(exists, `the deletion did not commit without its announcement (sign-out answered ${signOut.statusCode})`);
  } finally {
    await admin.query(`ALTER TABLE session_invalidation DROP CONSTRAINT IF EXISTS poison`);
  }

  t.equal((await a.app.inject({ method: "POST", url: "/api/auth/sign-out", headers: { cookie } })).statusCode, 200, "signed out once the log is writable");
  t.same(await eventually(() => viewOf(b.app, b.internal, cookie), signedOut, 1000), SIGNED_OUT, "and ended on B at once");
});

t.test("a log row that commits after rows with a higher seq were read is still applied", async (t) => {
  const [a, b] = await twoReplicas(t, testRedisUrl);
  const cookie = await sessionKeptByB(a.app, b);
  const sessionId = await sessionIdOf(a.app, cookie);
  const admin = await adminClient(t);
  const slow = await adminClient(t);

  // A transaction takes its seq, then commits after another one that took the next seq has
  // committed and been read. Its triggers are silenced and its row written by hand, so that no
  // NOTIFY arrives: only the poll can find it (what a notification lost to a pooler leaves).
  await slow.query("BEGIN");
  await slow.query("SET LOCAL session_replication_role = replica");
  await slow.query(`DELETE FROM "session" WHERE "id" = $1`, [sessionId]);
  await slow.query(`INSERT INTO session_invalidation (target) VALUES ($1)`, [`session:${sessionId}`]);
  await admin.query(`INSERT INTO session_invalidation (target) VALUES ('session:someone-else')`);
  await new Promise((resolve) => setTimeout(resolve, 2200)); // two polls of B read past it
  t.ok((await viewOf(b.app, b.internal, cookie)).active, "active on B while the deletion is not committed");
  await slow.query("COMMIT");

  const started = Date.now();
  t.same(await eventually(() => viewOf(b.app, b.internal, cookie), signedOut, 3000), SIGNED_OUT, "ended on B by its next poll");
  t.ok(Date.now() - started < 2000, `noticed after ${Date.now() - started} ms`);
});

t.test("change-password ending 11 other sessions answers at once, and ends them on B, with A's invalidation connection gone", async (t) => {
  const [a, b] = await twoReplicas(t, testRedisUrl);
  const user = await signUp(a.app);
  const others: string[] = [];
  for (let i = 0; i < 11; i++) {
    const response = await signIn(a.app, user.email);
    if (response.statusCode !== 200) throw new Error(`sign-in failed: ${response.statusCode}`);
    others.push(cookieOf(response));
  }
  for (const cookie of others) for (let i = 0; i < 2; i++) t.ok((await viewOf(b.app, b.internal, cookie)).active);

  // Until migration 0005 every deleted session's hook waited up to 2 s for its log write, one after
  // the other, holding the request (and a hashing slot) for 24 s.
  await a.app.sessions.invalidations.close();
  const response = await a.app.inject({
    method: "POST",
    url: "/api/auth/change-password",
    headers: { cookie: user.cookie },
    payload: { currentPassword: PASSWORD, newPassword: "another-long-secure-password", revokeOtherSessions: true },
  });
  t.equal(response.statusCode, 200);
  for (const cookie of others) {
    t.same(await eventually(() => viewOf(b.app, b.internal, cookie), signedOut, 1000), SIGNED_OUT, "ended on B");
  }
});

t.test("a member who leaves a clinic loses it at once in their other sessions, on every replica", async (t) => {
  const [a, b] = await twoReplicas(t, testRedisUrl);
  const owner = await signUp(a.app);
  const clinic = await createClinic(a.app, owner.cookie);
  const member = await addMember(a.app, owner.cookie, clinic.id, "doctor");
  const signedIn = await signIn(a.app, member.email);
  const elsewhere = cookieOf(signedIn); // acts in the clinic from sign-in on (their only one)
  for (let i = 0; i < 2; i++) {
    t.equal((await b.app.inject({ method: "GET", url: "/api/clinic", headers: { cookie: elsewhere } })).statusCode, 200, "B keeps the membership");
  }

  // Leaving ends the leaver's sessions acting in the clinic, as removal does (clinics/membership.ts).
  const leave = await a.app.inject({
    method: "POST",
    url: "/api/auth/organization/leave",
    headers: { cookie: member.cookie },
    payload: { organizationId: clinic.id },
  });
  t.equal(leave.statusCode, 200);
  t.same(await viewOf(a.app, a.internal, elsewhere), SIGNED_OUT, "A: ended at once");
  t.same(await eventually(() => viewOf(b.app, b.internal, elsewhere), signedOut, 1000), SIGNED_OUT, "B: ended");
});

t.test("publish() keeps and waits for nothing, however many invalidations and whatever the connection does", async (t) => {
  const { app } = await buildTestApp(t);
  await app.sessions.invalidations.close(); // no connection at all
  const settled = await Promise.allSettled(
    Array.from({ length: 25_000 }, (_, i) => app.sessions.invalidate(`session:gone-${i}`)),
  );
  t.equal(settled.filter((result) => result.status === "fulfilled").length, 25_000, "every one resolves, none fails");
  // Nothing was written or queued for later: PostgreSQL's triggers write the log, with the change.
  const { rows } = await app.pg.query<{ count: string }>(
    "SELECT count(*) FROM session_invalidation WHERE target LIKE 'session:gone-%'",
  );
  t.equal(Number(rows[0]!.count), 0, "no log row written by publish()");
  t.equal(app.pg.waitingCount, 0, "no query waits for a connection");
});

t.test("log rows are deleted once every replica has had the retention time to read them, not before", async (t) => {
  const { app } = await buildTestApp(t);
  const admin = await adminClient(t);
  // A row of a transaction long finished (its xid far below any snapshot's xmin).
  const old = (await admin.query(`INSERT INTO session_invalidation (target, xid) VALUES ('session:long-gone', '3') RETURNING seq::text AS seq`)).rows[0].seq;
  const exists = async (seq: string) => (await admin.query(`SELECT 1 FROM session_invalidation WHERE seq = $1`, [seq])).rowCount === 1;

  // A channel keeping rows 0 s: its first read prunes what had ended before a snapshot that old.
  const directory = new SessionDirectory(app.pg, { ttlMs: 60_000, maxBytes: 1 << 20, lifetime: sessionLifetime(app.config.sessionLifetime) });
  const channel = new InvalidationChannel(testDatabaseUrl, directory, app.log, 0);
  t.teardown(() => channel.close());
  await waitUntil(() => directory.isCaching, "the channel to catch up");
  // The first read's prune runs after caching resumes (invalidation.ts): wait for it, within bounds.
  t.notOk(await eventually(() => exists(old), (present) => !present, 10_000, 25), "the old row is deleted");

  const recent = (await admin.query(`INSERT INTO session_invalidation (target) VALUES ('session:recent') RETURNING seq::text AS seq`)).rows[0].seq;
  await new Promise((resolve) => setTimeout(resolve, 1500)); // a read or two later
  t.ok(await exists(recent), "a row its last pruning snapshot did not see is kept");
});
