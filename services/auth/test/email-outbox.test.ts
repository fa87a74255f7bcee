// The email outbox: requests never wait for the hand-over, each email is relayed once even by
// several replicas, and a repeated hand-over is stored once.
import { randomUUID } from "node:crypto";
import pg from "pg";
import t from "tap";
import type { EmailJob } from "@temetro/shared";
import { buildTestApp, emailsTo, emailTo, signUp, testDatabaseUrl, uniqueEmail } from "./fixtures/app.js";

/** Fails the test with a clear message instead of hanging when `work` never settles. */
async function settlesWithin<T>(work: Promise<T>, what: string, ms = 20_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer: it waits for the email hand-over`)), ms);
  });
  return Promise.race([work, hang]).finally(() => clearTimeout(timer));
}

t.test("forget-password answers while the email cannot even be stored, for a known and an unknown address alike", async (t) => {
  const { app } = await buildTestApp(t);
  const { email } = await signUp(app);
  await emailsTo(app, email); // the verification email is out of the way

  // Another session holds the outbox table: every write to it waits.
  const blocker = new pg.Client({ connectionString: testDatabaseUrl });
  await blocker.connect();
  t.teardown(() => blocker.end());
  await blocker.query("BEGIN");
  await blocker.query("LOCK TABLE email_outbox IN ACCESS EXCLUSIVE MODE");

  for (const address of [email, uniqueEmail("nobody")]) {
    const response = await settlesWithin(
      app.inject({ method: "POST", url: "/api/auth/forget-password", payload: { email: address } }),
      "forget-password",
    );
    t.equal(response.statusCode, 200);
    t.same(response.json(), { status: true, message: "If this email exists in our system, check your email for the reset link" });
  }

  await blocker.query("COMMIT");
  const reset = await emailTo(app, email, "reset-password");
  t.match(reset.url, /\/api\/auth\/reset-password\//);
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
