// Sessions end: SESSION_IDLE_MINUTES after their last use and SESSION_MAX_AGE_HOURS after sign-in,
// whatever the entrance. Time passes by moving a session's stored timestamps back in PostgreSQL
// (as an operator's psql would: the change is announced to every replica like any other).
import type { FastifyInstance } from "fastify";
import pg from "pg";
import t, { type Test } from "tap";
import { buildInternalApp } from "../src/internal-app.js";
import { SessionDirectory, type SessionRecord } from "../src/sessions/directory.js";
import { sessionLifetime } from "../src/sessions/lifetime.js";
import { buildReplicas, buildTestApp, testDatabaseUrl, type TestApp } from "@temetro/test-support/auth-app";
import { cookieOf, createClinic, PASSWORD, signIn, signUp } from "@temetro/test-support/auth-requests";
import { eventually } from "@temetro/test-support/polling";

const MINUTE = 60_000;

interface Replica extends TestApp {
  internal: FastifyInstance;
}

async function replicas(t: Test, env: Record<string, string> = {}): Promise<Replica[]> {
  return Promise.all(
    (await buildReplicas(t, 2, { env })).map(async (replica) => {
      const internal = await buildInternalApp(replica.app);
      t.teardown(() => internal.close());
      return { ...replica, internal };
    }),
  );
}

async function adminClient(t: Test): Promise<pg.Client> {
  const admin = new pg.Client({ connectionString: testDatabaseUrl });
  admin.on("error", () => {});
  await admin.connect();
  t.teardown(() => admin.end());
  return admin;
}

/** A clinic owner with one more session per entrance to try (each entrance alone ends its session). */
async function ownerWithSessions(app: FastifyInstance, count: number) {
  const owner = await signUp(app);
  await createClinic(app, owner.cookie);
  const cookies: string[] = [];
  for (let i = 0; i < count; i++) cookies.push(cookieOf(await signIn(app, owner.email, PASSWORD)));
  return { ...owner, cookies };
}

async function sessionIdOf(app: FastifyInstance, cookie: string): Promise<string> {
  const token = app.sessions.tokenOf(cookie);
  const { rows } = await app.pg.query<{ id: string }>(`SELECT "id" FROM "session" WHERE "token" = $1`, [token]);
  return rows[0]!.id;
}

/** Moves the session's stored times back: as if that much time had passed since each. */
async function letTimePass(admin: pg.Client, sessionId: string, ms: number, which: ("createdAt" | "updatedAt" | "expiresAt")[]) {
  const set = which.map((column) => `"${column}" = "${column}" - make_interval(secs => $2::float8 / 1000)`).join(", ");
  await admin.query(`UPDATE "session" SET ${set} WHERE "id" = $1`, [sessionId, ms]);
}

/** What one entrance says of a cookie: `true` while it accepts the session, else how it refused. */
const entrances: Record<string, (replica: Replica, cookie: string) => Promise<true | { status: number; code?: string }>> = {
  "the /api guard": async ({ app }, cookie) => {
    const response = await app.inject({ method: "GET", url: "/api/clinic", headers: { cookie } });
    return response.statusCode === 200 || { status: response.statusCode, code: response.json().code };
  },
  "get-session": async ({ app }, cookie) => {
    const response = await app.inject({ method: "GET", url: "/api/auth/get-session", headers: { cookie } });
    return response.json() !== null || { status: response.statusCode };
  },
  introspection: async ({ internal }, cookie) => {
    const response = await internal.inject({ method: "POST", url: "/internal/v1/introspect", payload: { cookie } });
    return response.json().active === true || { status: response.statusCode };
  },
  "the token route": async ({ app }, cookie) => {
    const response = await app.inject({ method: "GET", url: "/api/auth/token", headers: { cookie } });
    return response.statusCode === 200 || { status: response.statusCode, code: response.json().code };
  },
  "a Better Auth route acting with the session (organization/list)": async ({ app }, cookie) => {
    const response = await app.inject({ method: "GET", url: "/api/auth/organization/list", headers: { cookie } });
    return response.statusCode === 200 || { status: response.statusCode, code: response.json().code };
  },
};

/** How each entrance refuses a session it does not accept: the API page's get-session answers null. */
const refusals: Record<string, { status: number; code?: string }> = {
  "the /api guard": { status: 401, code: "UNAUTHENTICATED" },
  "get-session": { status: 200 },
  introspection: { status: 200 },
  "the token route": { status: 401, code: "UNAUTHORIZED" },
  "a Better Auth route acting with the session (organization/list)": { status: 401, code: "UNAUTHORIZED" },
};

async function sessionRowExists(admin: pg.Client, sessionId: string) {
  return (await admin.query(`SELECT 1 FROM "session" WHERE "id" = $1`, [sessionId])).rowCount === 1;
}

for (const [ended, times] of [
  ["idle for more than SESSION_IDLE_MINUTES", { ms: 31 * MINUTE, which: ["updatedAt"] }],
  ["older than SESSION_MAX_AGE_HOURS, though used a minute ago", { ms: 12 * 60 * MINUTE + MINUTE, which: ["createdAt", "expiresAt"] }],
] as const) {
  t.test(`a session ${ended} is refused at every entrance, on the other replica too, and ended`, async (t) => {
    const [a, b] = await replicas(t);
    const admin = await adminClient(t);
    const names = Object.keys(entrances);
    const owner = await ownerWithSessions(a!.app, names.length);
    for (const [index, name] of names.entries()) {
      const cookie = owner.cookies[index]!;
      t.equal(await entrances[name]!(b!, cookie), true, `${name} accepts the fresh session`);
      const sessionId = await sessionIdOf(a!.app, cookie);
      if (ended.includes("used a minute ago")) await letTimePass(admin, sessionId, MINUTE, ["updatedAt"]);
      await letTimePass(admin, sessionId, times.ms, [...times.which]);
      // The move is announced to both replicas; until it arrives one may answer from memory.
      const answer = await eventually(() => entrances[name]!(b!, cookie), (seen) => seen !== true);
      t.same(answer, refusals[name], `${name} refuses it`);
      t.notOk(await sessionRowExists(admin, sessionId), "the session is deleted");
      t.equal(await entrances["get-session"]!(a!, cookie) === true, false, "the other replica has no session either");
    }
  });
}

t.test("a session used within the idle window keeps working up to the absolute limit, then ends", async (t) => {
  const [a, b] = await replicas(t, { SESSION_MAX_AGE_HOURS: "1", SESSION_IDLE_MINUTES: "30" });
  const admin = await adminClient(t);
  const owner = await ownerWithSessions(a!.app, 1);
  const cookie = owner.cookies[0]!;
  const sessionId = await sessionIdOf(a!.app, cookie);
  const all = ["createdAt", "updatedAt", "expiresAt"] as const;

  // 20 minutes pass between uses, on alternating replicas and entrances: 40 minutes after sign-in
  // the session is still in, so each use was recorded (without, it would have idled at 30).
  await letTimePass(admin, sessionId, 20 * MINUTE, [...all]);
  t.equal(await entrances["the /api guard"]!(b!, cookie), true, "20 minutes after sign-in");
  await letTimePass(admin, sessionId, 20 * MINUTE, [...all]);
  t.equal(await entrances.introspection!(a!, cookie), true, "40 minutes after sign-in");
  await letTimePass(admin, sessionId, 19 * MINUTE, [...all]);
  t.equal(await entrances["the token route"]!(b!, cookie), true, "59 minutes after sign-in");

  await letTimePass(admin, sessionId, 2 * MINUTE, [...all]);
  const answer = await eventually(() => entrances["the /api guard"]!(a!, cookie), (seen) => seen !== true);
  t.same(answer, { status: 401, code: "UNAUTHENTICATED" }, "61 minutes after sign-in the session has ended, though used 2 minutes ago");
});

t.test("asking get-session is not use: a page that polls it does not keep a left-open session alive", async (t) => {
  const [a, b] = await replicas(t);
  const admin = await adminClient(t);
  const owner = await ownerWithSessions(a!.app, 1);
  const cookie = owner.cookies[0]!;
  const sessionId = await sessionIdOf(a!.app, cookie);

  await letTimePass(admin, sessionId, 20 * MINUTE, ["createdAt", "updatedAt", "expiresAt"]);
  t.equal(await entrances["get-session"]!(b!, cookie), true, "20 minutes idle: still signed in");
  await letTimePass(admin, sessionId, 11 * MINUTE, ["createdAt", "updatedAt", "expiresAt"]);
  const answer = await eventually(() => entrances["get-session"]!(a!, cookie), (seen) => seen !== true);
  t.same(answer, { status: 200 }, "31 minutes after the last real use get-session answers null");
  t.notOk(await sessionRowExists(admin, sessionId), "and the session is deleted");
});

t.test("a session kept in a replica's memory ends on time: the cache does not outlive the idle limit", async (t) => {
  const { app, config } = await buildTestApp(t);
  const owner = await signUp(app);
  const token = app.sessions.tokenOf(owner.cookie)!;
  let now = Date.now();
  const directory = new SessionDirectory(app.pg, {
    ttlMs: 60 * MINUTE,
    maxBytes: 1 << 20,
    lifetime: sessionLifetime(config.sessionLifetime),
    now: () => now,
  });
  directory.renewCaching(Date.now() + 60 * MINUTE);

  const first = await directory.findSession(token, "look");
  t.ok(first, "the session is found");
  t.equal(directory.footprint.entries, 1, "and kept in memory");
  now += 29 * MINUTE;
  t.equal(await directory.findSession(token, "look"), first as SessionRecord, "29 minutes later the kept answer is served");
  now += 2 * MINUTE;
  t.equal(await directory.findSession(token, "look"), null, "31 minutes after its last use it has ended, though still in memory");
  const { rowCount } = await app.pg.query(`SELECT 1 FROM "session" WHERE "token" = $1`, [token]);
  t.equal(rowCount, 0, "and is deleted");
});

t.test("a use another replica has just written, not yet heard of here, keeps the session: the row decides", async (t) => {
  const { app, config } = await buildTestApp(t);
  const admin = await adminClient(t);
  const owner = await signUp(app);
  const token = app.sessions.tokenOf(owner.cookie)!;
  const start = Date.now();
  let now = start;
  const directory = new SessionDirectory(app.pg, {
    ttlMs: 60 * MINUTE,
    maxBytes: 1 << 20,
    lifetime: sessionLifetime(config.sessionLifetime),
    now: () => now,
  });
  directory.renewCaching(Date.now() + 60 * MINUTE);
  t.ok(await directory.findSession(token, "look"), "the session is kept in memory");

  // Another replica recorded a use at minute 29; its announcement has not arrived here (written
  // without firing the triggers, as a notification still in flight).
  await admin.query("SET session_replication_role = replica");
  await admin.query(`UPDATE "session" SET "updatedAt" = $2 WHERE "token" = $1`, [token, new Date(start + 29 * MINUTE)]);
  await admin.query("SET session_replication_role = DEFAULT");

  now = start + 31 * MINUTE;
  const found = await directory.findSession(token, "look");
  t.ok(found, "31 minutes after the use this replica knew of, the session goes on");
  t.equal(found?.session.lastUsedAt.getTime(), start + 29 * MINUTE, "with the use read from PostgreSQL");
  now = start + 60 * MINUTE;
  t.equal(await directory.findSession(token, "look"), null, "and ends 30 minutes after that use");
});

t.test("SESSION_IDLE_MINUTES sets the idle timeout", async (t) => {
  const [a, b] = await replicas(t, { SESSION_IDLE_MINUTES: "5" });
  const admin = await adminClient(t);
  const owner = await ownerWithSessions(a!.app, 2);
  const [kept, left] = owner.cookies as [string, string];
  await letTimePass(admin, await sessionIdOf(a!.app, kept), 4 * MINUTE, ["createdAt", "updatedAt", "expiresAt"]);
  await letTimePass(admin, await sessionIdOf(a!.app, left), 6 * MINUTE, ["createdAt", "updatedAt", "expiresAt"]);
  t.equal(await eventually(() => entrances["the /api guard"]!(b!, kept), (seen) => seen === true), true, "4 minutes idle: in");
  t.same(
    await eventually(() => entrances["the /api guard"]!(b!, left), (seen) => seen !== true),
    { status: 401, code: "UNAUTHENTICATED" },
    "6 minutes idle: ended",
  );
});

t.test("a session ended elsewhere while its use was being written down is not served: the write finding no row ends it here too", async (t) => {
  const { app } = await buildTestApp(t);
  const internal = await buildInternalApp(app);
  t.teardown(() => internal.close());
  const admin = await adminClient(t);
  const observer = await adminClient(t);
  const owner = await signUp(app);
  const sessionId = await sessionIdOf(app, owner.cookie);
  // Its last use is old enough to be written down at the next one (a tenth of the idle time).
  await letTimePass(admin, sessionId, 10 * MINUTE, ["updatedAt"]);
  const introspect = () => internal.inject({ method: "POST", url: "/internal/v1/introspect", payload: { cookie: owner.cookie } });
  t.equal((await eventually(introspect, (response) => response.json().active === true)).json().active, true, "active to begin with");
  await letTimePass(admin, sessionId, 10 * MINUTE, ["updatedAt"]);

  // Another replica signs the session out while this one is about to record a use: the row is
  // held, the use's write waits for it, and the sign-out's delete commits first.
  await admin.query("BEGIN");
  await admin.query(`SELECT 1 FROM "session" WHERE "id" = $1 FOR UPDATE`, [sessionId]);
  const answer = introspect();
  const waiting = await eventually(
    async () =>
      (
        await observer.query(
          `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'UPDATE "session" SET "updatedAt"%'`,
        )
      ).rowCount ?? 0,
    (count) => count > 0,
    30_000,
    25,
  );
  t.ok(waiting > 0, "the use's write waits on the row");
  await admin.query(`DELETE FROM "session" WHERE "id" = $1`, [sessionId]);
  await admin.query("COMMIT");
  t.equal((await answer).json().active, false, "the signed-out session is not answered active");
});
