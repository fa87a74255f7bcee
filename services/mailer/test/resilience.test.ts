// When SMTP or Redis fail: nothing is lost, nothing is sent twice, permanent refusals stop.
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import t from "tap";
import { emailIdempotencyKey, type EmailJob } from "@temetro/shared";
import type { Config } from "@temetro/auth/config";
import { buildTestApp, testRedisUrl } from "@temetro/test-support/auth-app";
import { signUp, uniqueEmail } from "@temetro/test-support/auth-requests";
import { waitUntil } from "@temetro/test-support/polling";
import { spawnUncovered, typeScriptEntry } from "@temetro/test-support/processes";
import { SpareRedis } from "@temetro/test-support/spare-redis";
import { startTestMailer } from "./fixtures/mailer.js";

const failedCli = fileURLToPath(new URL("../src/failed-cli.ts", import.meta.url));

/** Runs the failed-emails command against an app's queue, as an operator would. */
async function failedEmails(config: Config, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawnUncovered(process.execPath, [...typeScriptEntry(failedCli), ...args], {
    env: { PATH: process.env.PATH, REDIS_URL: testRedisUrl, REDIS_PREFIX: config.redisPrefix },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, "exit")) as [number];
  return { code, stdout, stderr };
}

t.test("SMTP down for a while: every email arrives once it is back, each exactly once", async (t) => {
  const { app, config } = await buildTestApp(t);
  const { mailer, sink } = await startTestMailer(t, config);
  await sink.stop();

  const users = await Promise.all(Array.from({ length: 6 }, () => signUp(app)));
  await waitUntil(async () => (await mailer.metrics()).retried >= users.length, "a failed attempt per email");
  await sink.listen();

  await sink.waitForTotal(users.length);
  await waitUntil(async () => {
    const { queue } = await mailer.metrics();
    return queue.waiting + queue.delayed + queue.active === 0;
  }, "an empty queue");
  for (const user of users) t.equal(sink.to(user.email).length, 1, "one verification email");
  t.equal(sink.received.length, users.length, "no other email, no second copy");
  const metrics = await mailer.metrics();
  t.equal(metrics.sent, users.length);
  t.equal(metrics.failed, 0);
  t.ok(metrics.retried >= users.length, "the retries are counted");
});

t.test("an SMTP 4xx answer (greylisting) is retried until the server accepts the email", async (t) => {
  const { app, config } = await buildTestApp(t);
  const { mailer, sink } = await startTestMailer(t, config);
  const email = uniqueEmail("greylisted");
  sink.deferred.add(email);
  await signUp(app, { email });

  await waitUntil(async () => (await mailer.metrics()).retried >= 1, "a retried attempt");
  sink.deferred.delete(email);
  await sink.waitFor(email);
  await waitUntil(async () => (await mailer.metrics()).sent === 1, "the send to be counted");
  t.match(await mailer.metrics(), { failed: 0, queue: { failed: 0 } });
  t.equal(sink.to(email).length, 1);
});

t.test("a permanent rejection fails at once, without retries, and the failed-emails command sends it again", async (t) => {
  const { app, config } = await buildTestApp(t);
  const { mailer, sink } = await startTestMailer(t, config);
  const email = uniqueEmail("nobody-here");
  sink.refused.add(email);
  await signUp(app, { email });

  await waitUntil(async () => (await mailer.metrics()).failed === 1, "the failure");
  const [job] = await app.emailQueue.getFailed();
  t.equal(job!.attemptsMade, 1, "tried once: 5xx is not retried");
  t.match(job!.failedReason, /550/);
  t.match(await mailer.metrics(), { retried: 0, queue: { failed: 1, delayed: 0 } });

  const list = await failedEmails(config, "list");
  t.equal(list.code, 0);
  t.match(list.stdout, new RegExp(`${job!.id}\\tverify-email\\t${email}\\t.*1 attempt\\(s\\)\\t.*550`));
  t.notMatch(list.stdout, /token/, "the link (and its token) is not shown");

  sink.refused.delete(email); // the address was fixed on the mail server
  const resend = await failedEmails(config, "resend");
  t.equal(resend.code, 0);
  t.match(resend.stdout, `resent ${job!.id}`);
  const [arrived] = await sink.waitFor(email);
  t.match(arrived!.subject, /temetro/);
  t.match(await failedEmails(config, "list"), { code: 0, stdout: /No failed emails/ });

  const unknown = await failedEmails(config, "resend", "verify-email-unknown");
  t.equal(unknown.code, 1);
  t.match(unknown.stderr, "not a failed email: verify-email-unknown");
  const usage = await failedEmails(config, "delete");
  t.equal(usage.code, 2);
  t.match(usage.stderr, /Usage/);
});

t.test("Redis unreachable during a sign-up: the sign-up succeeds and the verification email arrives once Redis is back", async (t) => {
  const redis = await SpareRedis.start(t);
  const { app, config, logs } = await buildTestApp(t, { env: { REDIS_URL: redis.url } });
  const { sink } = await startTestMailer(t, config);
  await redis.down();

  const { email } = await signUp(app);
  t.equal(await app.emailOutbox.flush(), 1, "the email waits in the outbox");
  t.match(logs.text(), /Redis unreachable: emails wait in the outbox/);

  await redis.up();
  const [message] = await sink.waitFor(email);
  t.match(message!.subject, /Confirm your email address/);
  t.equal(await app.emailOutbox.waiting(), 0, "the outbox is empty again");
});

t.test("an email handed over again after it went out (its job already removed) is not sent a second time", async (t) => {
  const { app, config } = await buildTestApp(t);
  const { mailer, sink } = await startTestMailer(t, config);
  const job: EmailJob = { kind: "verify-email", to: uniqueEmail(), name: "Once", url: "http://localhost:4000/api/auth/verify-email?token=x" };
  await app.enqueueEmail(job);
  await sink.waitFor(job.to);
  await waitUntil(async () => (await app.emailQueue.getJob(emailIdempotencyKey(job))) === undefined, "the completed job to be removed");

  // Handed over again: a relay that handed it over died before recording so, and another took the
  // row up once its lease ended. The mailer's delivered mark decides.
  await app.emailQueue.add(job.kind, job, { jobId: emailIdempotencyKey(job) });
  await waitUntil(async () => (await mailer.metrics()).duplicatesSkipped === 1, "the duplicate to be recognised");
  t.equal(sink.to(job.to).length, 1, "one copy only");
  t.equal((await mailer.metrics()).sent, 1);
});

t.test("a job no email can be made of (a javascript: link) fails at once and is kept", async (t) => {
  const { app, config } = await buildTestApp(t);
  const { mailer } = await startTestMailer(t, config);
  await app.enqueueEmail({ kind: "reset-password", to: uniqueEmail(), name: "X", url: "javascript:alert(1)" });
  await waitUntil(async () => (await mailer.metrics()).failed === 1, "the failure");
  const [failed] = await app.emailQueue.getFailed();
  t.match(failed!.failedReason, /cannot render the email/);
  t.equal(failed!.attemptsMade, 1);
});
