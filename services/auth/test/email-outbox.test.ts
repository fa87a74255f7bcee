// The email outbox: a 200 means the email is stored (a 503 with Retry-After when it cannot be),
// resets cost the same write for every account, each email is relayed once even by several
// replicas, a repeated hand-over is stored once, and the backlog is in /metrics.
import { randomUUID } from "node:crypto";
import pg from "pg";
import t, { type Test } from "tap";
import type { EmailJob } from "@temetro/shared";
import { buildTestApp, testDatabaseUrl } from "@temetro/test-support/auth-app";
import { createClinic, emailsTo, emailTo, metricSample, PASSWORD, signUp, uniqueEmail, uniqueUsername } from "@temetro/test-support/auth-requests";

/** Fails the test with a clear message instead of hanging when `work` never settles. */
async function settlesWithin<T>(work: Promise<T>, what: string, ms = 20_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer: it waits for the outbox without a bound`)), ms);
  });
  return Promise.race([work, hang]).finally(() => clearTimeout(timer));
}

/** Another session holds the outbox table: every write to it waits (and times out). Released at the end. */
async function lockOutbox(t: Test): Promise<{ release: () => Promise<void> }> {
  const blocker = new pg.Client({ connectionString: testDatabaseUrl });
  await blocker.connect();
  await blocker.query("BEGIN");
  await blocker.query("LOCK TABLE email_outbox IN ACCESS EXCLUSIVE MODE");
  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    await blocker.query("COMMIT");
    await blocker.end();
  };
  t.teardown(release);
  return { release };
}

t.test("while the outbox cannot be written, every reset route answers 503 with Retry-After, for known and unknown accounts alike; the retry gets its email", async (t) => {
  const { app } = await buildTestApp(t);
  const { email } = await signUp(app);
  const username = uniqueUsername("front");
  await app.pg.query(`UPDATE "user" SET "username" = $1 WHERE "email" = $2`, [username, email]);
  await emailsTo(app, email); // the verification email is out of the way
  const outbox = await lockOutbox(t);

  const requests: { url: string; payload: Record<string, string> }[] = [
    { url: "/api/auth/forget-password", payload: { email } },
    { url: "/api/auth/request-password-reset", payload: { email: uniqueEmail("nobody") } },
    { url: "/api/auth-helpers/reset-by-username", payload: { username } },
    { url: "/api/auth-helpers/reset-by-username", payload: { username: "nobody_here" } },
  ];
  for (const request of requests) {
    const started = Date.now();
    const response = await settlesWithin(app.inject({ method: "POST", ...request }), request.url);
    t.equal(response.statusCode, 503, `${request.url} ${JSON.stringify(request.payload)}`);
    t.equal(response.headers["retry-after"], "5");
    t.equal(response.json().code, "SERVICE_UNAVAILABLE");
    t.ok(Date.now() - started < 5000, "within the write timeout, not the lock's length");
  }
  t.equal(metricSample(await app.metrics.registry.metrics(), "auth_email_outbox_write_failures_total", {}), requests.length);

  await outbox.release();
  t.same(await emailsTo(app, email).then((jobs) => jobs.filter((job) => job.kind === "reset-password")), [], "no email for an answer that was not a 200");
  const retry = await app.inject({ method: "POST", url: "/api/auth/forget-password", payload: { email } });
  t.equal(retry.statusCode, 200);
  const reset = await emailTo(app, email, "reset-password");
  t.match(reset.url, /\/api\/auth\/reset-password\//);
});

t.test("a reset for an unknown account costs the same outbox write as one for a real account", async (t) => {
  const { app } = await buildTestApp(t);
  const { email } = await signUp(app);
  await emailsTo(app, email);
  await app.emailOutbox.stop(); // nothing relayed or deleted meanwhile: the writes stay countable
  const rowsWritten = async () => {
    const { rows } = await app.pg.query<{ count: string }>("SELECT count(*) FROM email_outbox WHERE queue_prefix = $1", [
      app.config.redisPrefix,
    ]);
    return Number(rows[0]!.count);
  };
  const before = await rowsWritten();
  for (const address of [email, uniqueEmail("nobody")]) {
    const response = await app.inject({ method: "POST", url: "/api/auth/forget-password", payload: { email: address } });
    t.equal(response.statusCode, 200);
    t.same(response.json(), { status: true, message: "If this email exists in our system, check your email for the reset link" });
  }
  t.equal(await rowsWritten(), before + 2, "one row each: the reset email, and a decoy for the unknown address");
  t.equal(await app.emailOutbox.waiting(), 1, "only the real email is owed");
});

t.test("a sign-up whose verification email cannot be stored answers 503 with Retry-After and no session cookie, never 200", async (t) => {
  const { app } = await buildTestApp(t);
  await lockOutbox(t);
  const email = uniqueEmail("locked");
  const response = await settlesWithin(
    app.inject({ method: "POST", url: "/api/auth/sign-up/email", payload: { name: "Locked Out", email, password: PASSWORD } }),
    "sign-up",
  );
  t.equal(response.statusCode, 503);
  t.equal(response.headers["retry-after"], "5");
  t.equal(response.headers["set-cookie"], undefined, "no session for an answer that says to retry");
  t.equal(response.json().code, "SERVICE_UNAVAILABLE");
});

t.test("a staff account whose welcome email cannot be stored is not created: 503 with Retry-After, and the retry works", async (t) => {
  const { app } = await buildTestApp(t);
  const owner = await signUp(app);
  await createClinic(app, owner.cookie);
  const email = uniqueEmail("welcome");
  const body = { name: "Grace Okafor", username: uniqueUsername(), password: PASSWORD, role: "reception", email };
  const outbox = await lockOutbox(t);
  const refused = await settlesWithin(
    app.inject({ method: "POST", url: "/api/staff", headers: { cookie: owner.cookie }, payload: body }),
    "staff creation",
  );
  t.equal(refused.statusCode, 503);
  t.equal(refused.headers["retry-after"], "5");
  await outbox.release();
  const { rows } = await app.pg.query(`SELECT 1 FROM "user" WHERE "email" = $1`, [email]);
  t.equal(rows.length, 0, "the account and its email commit together, or neither does");

  const created = await app.inject({ method: "POST", url: "/api/staff", headers: { cookie: owner.cookie }, payload: body });
  t.equal(created.statusCode, 201);
  t.equal((await emailTo(app, email, "welcome")).username, body.username);
});

t.test("the outbox's backlog is in /metrics, and a scrape does not wait for an unreachable PostgreSQL", async (t) => {
  const { app } = await buildTestApp(t);
  await app.emailOutbox.stop(); // the email stays pending
  await signUp(app);
  const text = await app.metrics.registry.metrics();
  t.equal(metricSample(text, "auth_email_outbox_emails", { state: "pending" }), 1);
  t.equal(metricSample(text, "auth_email_outbox_emails", { state: "handed_over" }), 0);
  t.ok(metricSample(text, "auth_email_outbox_oldest_age_seconds", { queue: "email" })! >= 0);
  t.equal(metricSample(text, "auth_email_outbox_write_failures_total", {}), 0);
  t.equal(metricSample(text, "auth_email_outbox_handed_over_again_total", {}), 0);

  const down = await buildTestApp(t, { env: { DATABASE_URL: "postgres://postgres@10.255.255.1:5432/unreachable" } });
  const started = Date.now();
  const unreachable = await down.app.metrics.registry.metrics();
  t.ok(Date.now() - started < 2500, `the scrape answered in ${Date.now() - started} ms`);
  t.equal(metricSample(unreachable, "auth_email_outbox_emails", { state: "pending" }), undefined, "left out, not a stale or made-up figure");
  t.notMatch(unreachable, /auth_email_outbox_oldest_age_seconds\{/);
});

t.test("two replicas relaying one outbox hand each email over once", async (t) => {
  const prefix = `test-replicas-${randomUUID().slice(0, 8)}`;
  const first = await buildTestApp(t, { env: { REDIS_PREFIX: prefix } });
  const second = await buildTestApp(t, { env: { REDIS_PREFIX: prefix } });
  const to = uniqueEmail("many");
  const jobs: EmailJob[] = Array.from({ length: 60 }, (_, index) => ({
    kind: "password-changed",
    to,
    name: "Many",
    changedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, index)).toISOString(),
  }));
  // Written through both replicas at once, each relaying as it goes.
  await Promise.all(jobs.map((job, index) => (index % 2 === 0 ? first : second).app.enqueueEmail(job)));
  await Promise.all([first.app.emailOutbox.flush(), second.app.emailOutbox.flush()]);

  t.equal((await emailsTo(first.app, to)).length, jobs.length, "every email is on the queue");
  const handOvers = [first, second].flatMap(({ logs }) => logs.lines.filter((line) => line.msg === "email queued"));
  t.equal(handOvers.length, jobs.length, "no email was handed over by both replicas");
  t.equal(await first.app.emailOutbox.waiting(), 0);
});

t.test("the same email handed over twice is stored, queued and sent once", async (t) => {
  const { app } = await buildTestApp(t);
  const job: EmailJob = { kind: "verify-email", to: uniqueEmail(), name: "Twice", url: "http://localhost:4000/api/auth/verify-email?token=x" };
  await app.enqueueEmail(job);
  await app.enqueueEmail({ ...job });
  t.equal((await emailsTo(app, job.to)).length, 1);
});

t.test("an email that cannot be stored (PostgreSQL unreachable) is reported, never logged with its link", async (t) => {
  const { app, logs } = await buildTestApp(t, { env: { DATABASE_URL: "postgres://postgres@127.0.0.1:1/unreachable" } });
  const job: EmailJob = { kind: "reset-password", to: "a@example.com", name: "A", url: "http://localhost:4000/api/auth/reset-password/secret-token" };
  await t.rejects(app.enqueueEmail(job));
  t.match(logs.text(), /email could not be stored in the outbox/);
  t.notMatch(logs.text(), /secret-token/);
});
