// Overload and database faults on one replica: a storm of sign-ups, sign-ins and resets is shed
// (success or 503 with Retry-After, never a 500, never a jammed pool), and a PostgreSQL
// connection cut in the middle of Better Auth's work answers 503 without ending the process.
import pg from "pg";
import t, { type Test } from "tap";
import { buildTestApp, type TestApp } from "@temetro/test-support/auth-app";
import { PASSWORD, signUp, uniqueEmail } from "@temetro/test-support/auth-requests";
import { eventually } from "@temetro/test-support/polling";

// The production sizes: a pool of 10 and 8 hashing slots (the defaults a deployment gets).
const productionSizes = { DATABASE_POOL_MAX: "10", PASSWORD_HASH_CONCURRENCY: "8" };

/** Every answer is a success or a 503 carrying Retry-After; returns how many of each. */
function assertShed(t: Test, responses: { statusCode: number; headers: Record<string, unknown>; body: string }[], success: number) {
  const succeeded = responses.filter((response) => response.statusCode === success);
  const shed = responses.filter((response) => response.statusCode === 503);
  const other = responses.filter((response) => response.statusCode !== success && response.statusCode !== 503);
  t.same(
    other.map((response) => `${response.statusCode} ${response.body}`),
    [],
    "no answer other than success or 503",
  );
  t.same(
    shed.filter((response) => response.headers["retry-after"] !== "1" || JSON.parse(response.body).code !== "SERVICE_UNAVAILABLE").map((r) => r.body),
    [],
    "every shed request is told when to retry (Retry-After: 1, SERVICE_UNAVAILABLE)",
  );
  return { succeeded: succeeded.length, shed: shed.length };
}

async function stillServes(t: Test, { app }: TestApp) {
  const user = await signUp(app);
  t.ok(user.cookie, "a sign-up after the storm succeeds at once");
  const ready = await app.inject({ method: "GET", url: "/health/ready" });
  t.equal(ready.statusCode, 200, "readiness holds: the pool was never jammed");
}

t.test("200 concurrent sign-ups on one replica: each succeeds or is shed with Retry-After; none jams the pool", async (t) => {
  const testApp = await buildTestApp(t, { env: productionSizes });
  const { app } = testApp;
  const responses = await Promise.all(
    Array.from({ length: 200 }, (_, i) =>
      app.inject({
        method: "POST",
        url: "/api/auth/sign-up/email",
        payload: { name: `Storm ${i}`, email: uniqueEmail("storm"), password: PASSWORD },
      }),
    ),
  );
  const { succeeded, shed } = assertShed(t, responses, 200);
  t.ok(succeeded >= 8, `${succeeded} signed up (at least one per hashing slot)`);
  t.ok(shed > 0, `${shed} shed`);
  t.equal(app.passwordHasher.running, 0, "every slot is free again");
  await stillServes(t, testApp);
});

t.test("a shed sign-in never reached the database or a hash: refused at arrival", async (t) => {
  const testApp = await buildTestApp(t, { env: productionSizes });
  const { app } = testApp;
  const user = await signUp(app);
  const completedBefore = app.passwordHasher.completed;
  const responses = await Promise.all(
    Array.from({ length: 200 }, () =>
      app.inject({ method: "POST", url: "/api/auth/sign-in/email", payload: { email: user.email, password: PASSWORD } }),
    ),
  );
  const { succeeded, shed } = assertShed(t, responses, 200);
  t.ok(succeeded >= 8, `${succeeded} signed in`);
  t.equal(app.passwordHasher.completed - completedBefore, succeeded, "one verification per admitted sign-in, none for a shed one");
  t.equal(shed + succeeded, 200);
  await stillServes(t, testApp);
});

t.test("200 concurrent reset requests and sign-ups mixed: no 500, the pool keeps serving", async (t) => {
  const testApp = await buildTestApp(t, { env: productionSizes });
  const { app } = testApp;
  const users = await Promise.all(Array.from({ length: 5 }, () => signUp(app)));
  const responses = await Promise.all(
    Array.from({ length: 200 }, (_, i) =>
      i % 2
        ? app.inject({ method: "POST", url: "/api/auth/forget-password", payload: { email: users[i % 5]!.email } })
        : app.inject({
            method: "POST",
            url: "/api/auth/sign-up/email",
            payload: { name: `Mixed ${i}`, email: uniqueEmail("mixed"), password: PASSWORD },
          }),
    ),
  );
  assertShed(t, responses, 200);
  const resets = responses.filter((_, i) => i % 2);
  t.ok(resets.every((response) => response.statusCode === 200), "reset requests hash nothing and are never shed");
  await stillServes(t, testApp);
});

/**
 * What a PostgreSQL restart does to a connection in use, played on one request: `lock` (run in a
 * transaction of the test's own) makes the request's query wait, its backend is then terminated
 * (57P01, then the socket closes), and the lock is released. Resolves with the request's answer.
 */
async function cutWhileWaiting<T>(t: Test, databaseUrl: string, lock: string, send: () => Promise<T>): Promise<T> {
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  t.teardown(() => admin.end());
  const adminPid = (await admin.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;
  await admin.query("BEGIN");
  await admin.query(lock);
  const answer = send();
  // Bounded (a loaded CI machine can be slow to get there), never a figure of speed.
  const waiting = await eventually(
    async () => {
      // Inside a transaction pg_stat_activity is a snapshot taken at its first read: without this,
      // a first poll that ran before the request reached PostgreSQL would be all any later poll saw.
      await admin.query("SELECT pg_stat_clear_snapshot()");
      return (
        await admin.query<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> $1 AND backend_type = 'client backend' AND wait_event_type = 'Lock'`,
          [adminPid],
        )
      ).rows;
    },
    (rows) => rows.length > 0,
    30_000,
    25,
  );
  t.ok(waiting.length > 0, "the request waits on the lock");
  for (const backend of waiting) await admin.query("SELECT pg_terminate_backend($1)", [backend.pid]);
  await admin.query("ROLLBACK");
  return answer;
}

t.test("a connection cut while Better Auth's transaction holds it: 503 with Retry-After, and the process lives on", async (t) => {
  const testApp = await buildTestApp(t);
  const { app, config } = testApp;
  // Sign-up's transaction waits on the user table; the cut lands while it holds its connection.
  const response = await cutWhileWaiting(t, config.databaseUrl, `LOCK TABLE "user" IN ACCESS EXCLUSIVE MODE`, () =>
    app.inject({ method: "POST", url: "/api/auth/sign-up/email", payload: { name: "Cut Off", email: uniqueEmail("cut"), password: PASSWORD } }),
  );
  t.equal(response.statusCode, 503, "the cut becomes a 503, not a bare 500");
  t.equal(response.headers["retry-after"], "5");
  t.same(response.json(), { error: "Service temporarily unavailable", code: "SERVICE_UNAVAILABLE", message: "Service temporarily unavailable" });
  t.notMatch(response.body, /terminat|57P01|stack/i, "nothing of the internals in the answer");
  // Still alive (an unhandled 'error' on the cut client would have ended this process) and serving.
  await stillServes(t, testApp);
});

t.test("a sign-up whose insert is cut (Better Auth would answer 422 FAILED_TO_CREATE_USER): 503 with Retry-After", async (t) => {
  const { app, config } = await buildTestApp(t);
  const email = uniqueEmail("cut-insert");
  const signUpRequest = () => app.inject({ method: "POST", url: "/api/auth/sign-up/email", payload: { name: "Cut Insert", email, password: PASSWORD } });
  // Reads pass, the insert waits: the cut lands inside Better Auth's createUser, which it catches.
  const response = await cutWhileWaiting(t, config.databaseUrl, `LOCK TABLE "user" IN SHARE MODE`, signUpRequest);
  t.equal(response.statusCode, 503, "not a 422 the client would take as final");
  t.equal(response.headers["retry-after"], "5");
  t.equal(response.json().code, "SERVICE_UNAVAILABLE");
  // Nothing was created: the same sign-up, retried, succeeds.
  t.equal((await signUpRequest()).statusCode, 200, "the retry signs up");
});

t.test("a sign-out whose session could not be deleted (connection cut): 503, and the session is not reported ended", async (t) => {
  const { app, config } = await buildTestApp(t);
  const user = await signUp(app);
  const signOut = () => app.inject({ method: "POST", url: "/api/auth/sign-out", headers: { cookie: user.cookie } });
  const response = await cutWhileWaiting(t, config.databaseUrl, `LOCK TABLE "session" IN ACCESS EXCLUSIVE MODE`, signOut);
  // Better Auth itself logs the failure and answers 200 with a cleared cookie, while the session
  // stays valid for a week: the client would believe it had signed out.
  t.equal(response.statusCode, 503, "not a 200 for a sign-out that did not happen");
  t.equal(response.headers["retry-after"], "5");
  t.notOk(response.headers["set-cookie"], "the cookie is kept, so the client can sign out again");
  const session = await app.inject({ method: "GET", url: "/api/auth/get-session", headers: { cookie: user.cookie } });
  t.not(session.json(), null, "the session is indeed still valid: the 503 told the truth");
  t.equal((await signOut()).statusCode, 200, "signing out again works");
  const after = await app.inject({ method: "GET", url: "/api/auth/get-session", headers: { cookie: user.cookie } });
  t.equal(after.json(), null);
});

t.test("pool settings are the configuration's: DATABASE_POOL_MAX and the connection timeout", async (t) => {
  const { app } = await buildTestApp(t, { env: { DATABASE_POOL_MAX: "7", PASSWORD_HASH_CONCURRENCY: "5", DATABASE_CONNECTION_TIMEOUT_MS: "1500" } });
  t.equal(app.pg.options.max, 7);
  t.equal(app.pg.options.connectionTimeoutMillis, 1500);
});
