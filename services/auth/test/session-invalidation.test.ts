// Whatever Redis and the connections do, no replica answers for a session after it has ended:
// two replicas keep answers in memory, and a sign-out on one shows on the other at once.
import type { FastifyInstance } from "fastify";
import { Redis } from "ioredis";
import pg from "pg";
import t, { type Test } from "tap";
import { buildInternalApp } from "../src/internal-app.js";
import { buildReplicas, eventually, signUp, testDatabaseUrl, type TestApp } from "./fixtures/app.js";
import { startSpareRedis, until } from "./fixtures/spare-redis.js";

/** What a user of each replica sees for a cookie: get-session, the data API, introspection. */
async function viewOf(app: FastifyInstance, internal: FastifyInstance, cookie: string) {
  const session = (await app.inject({ method: "GET", url: "/api/auth/get-session", headers: { cookie } })).json();
  const api = (await app.inject({ method: "GET", url: "/api/clinic", headers: { cookie } })).statusCode;
  const introspection = (await internal.inject({ method: "POST", url: "/internal/v1/introspect", payload: { cookie } })).json();
  return { signedIn: session !== null, api, active: introspection.active as boolean };
}

const signedOut = (view: { signedIn: boolean; api: number; active: boolean }) => !view.signedIn && view.api === 401 && !view.active;

async function twoReplicas(t: Test, redisUrl: string) {
  const replicas = await buildReplicas(t, 2, { env: { REDIS_URL: redisUrl } });
  const withInternal = await Promise.all(
    replicas.map(async (replica: TestApp) => {
      const internal = await buildInternalApp(replica.app);
      t.teardown(() => internal.close());
      return { ...replica, internal };
    }),
  );
  await until(() => withInternal.every(({ app }) => app.sessions.directory.isCaching), "both replicas to cache sessions");
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
  const redis = await startSpareRedis(t);
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
  const redis = await startSpareRedis(t);
  const [a, b] = await twoReplicas(t, redis.url);
  const duringOutage = await sessionKeptByB(a.app, b);
  const afterOutage = await sessionKeptByB(a.app, b);

  await redis.stop();
  t.equal((await a.app.inject({ method: "POST", url: "/api/auth/sign-out", headers: { cookie: duringOutage } })).statusCode, 200);
  t.same(await eventually(() => viewOf(b.app, b.internal, duringOutage), signedOut, 1000), { signedIn: false, api: 401, active: false }, "ended on B during the outage");

  await redis.start(); // empty: nothing of before survived
  await until(() => a.app.limiterStore.redis.status === "ready" && b.app.limiterStore.redis.status === "ready", "both replicas to reconnect to Redis");
  t.equal((await a.app.inject({ method: "POST", url: "/api/auth/sign-out", headers: { cookie: afterOutage } })).statusCode, 200);
  t.same(await eventually(() => viewOf(b.app, b.internal, afterOutage), signedOut, 1000), { signedIn: false, api: 401, active: false }, "ended on B after Redis came back");
  t.same(await viewOf(b.app, b.internal, duringOutage), { signedIn: false, api: 401, active: false }, "and the first one stays ended");
  t.ok(b.app.sessions.directory.isCaching, "B caches again");
});

t.test("a replica that loses its invalidation connection stops caching, and the invalidations written meanwhile are retried", async (t) => {
  const redis = await startSpareRedis(t);
  const [a, b] = await twoReplicas(t, redis.url);
  const cookie = await sessionKeptByB(a.app, b);

  // Both replicas' connections to the log end (a PostgreSQL restart or a network cut does this).
  const admin = new pg.Client({ connectionString: testDatabaseUrl });
  await admin.connect();
  t.teardown(() => admin.end());
  await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'temetro-invalidation' AND datname = current_database()`);
  await until(() => !b.app.sessions.directory.isCaching, "B to stop caching");

  t.equal((await a.app.inject({ method: "POST", url: "/api/auth/sign-out", headers: { cookie } })).statusCode, 200);
  t.same(await viewOf(b.app, b.internal, cookie), { signedIn: false, api: 401, active: false }, "B reads PostgreSQL meanwhile");

  await until(() => a.app.sessions.directory.isCaching && b.app.sessions.directory.isCaching, "both replicas to cache again");
  t.equal(a.app.sessions.invalidations.status.pending, 0, "A's invalidation was written once it could be");
  t.same(await viewOf(b.app, b.internal, cookie), { signedIn: false, api: 401, active: false }, "and B still says signed out");
});

t.test("an invalidation that cannot be written is kept and written when PostgreSQL answers again", async (t) => {
  const redis = await startSpareRedis(t);
  const [a, b] = await twoReplicas(t, redis.url);
  const cookie = await sessionKeptByB(a.app, b);
  const channel = a.app.sessions.invalidations;

  // Writers of the log take an advisory lock; held elsewhere, A's write waits, times out and fails.
  const admin = new pg.Client({ connectionString: testDatabaseUrl });
  await admin.connect();
  t.teardown(() => admin.end());
  await admin.query("SELECT pg_advisory_lock(727465004)");
  const signOut = a.app.inject({ method: "POST", url: "/api/auth/sign-out", headers: { cookie } });
  await until(() => channel.status.failed > 0, "A's write to fail");
  t.equal(channel.status.pending, 1, "kept in memory");
  t.equal((await signOut).statusCode, 200, "the sign-out itself succeeded");
  await admin.query("SELECT pg_advisory_unlock(727465004)");

  await until(() => channel.status.pending === 0, "A's write to succeed");
  t.ok(channel.status.retried >= 1, "written by a retry");
  t.same(await eventually(() => viewOf(b.app, b.internal, cookie), signedOut, 3000), { signedIn: false, api: 401, active: false });
});

t.test("an invalidation whose notification never arrives is read from the log within about a second", async (t) => {
  const redis = await startSpareRedis(t);
  const [a, b] = await twoReplicas(t, redis.url);
  const cookie = await sessionKeptByB(a.app, b);
  const { id: sessionId } = (await a.app.inject({ method: "GET", url: "/api/auth/get-session", headers: { cookie } })).json().session;

  // What a writer whose NOTIFY is lost (or a pooler that drops LISTEN) leaves: the change and its
  // log row, and no notification.
  const admin = new pg.Client({ connectionString: testDatabaseUrl });
  await admin.connect();
  t.teardown(() => admin.end());
  await admin.query(`DELETE FROM "session" WHERE "id" = $1`, [sessionId]);
  await admin.query(`INSERT INTO session_invalidation (target) VALUES ($1)`, [`session:${sessionId}`]);
  const started = Date.now();
  const view = await eventually(() => viewOf(b.app, b.internal, cookie), signedOut, 3000);
  t.same(view, { signedIn: false, api: 401, active: false });
  t.ok(Date.now() - started < 2000, `noticed after ${Date.now() - started} ms`);
});
