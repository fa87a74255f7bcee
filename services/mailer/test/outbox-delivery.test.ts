// A 200 means the email is durable, and an outbox row stays owed until the mailer confirmed
// delivery: a replica killed right after answering, or a Redis restarted empty after the
// hand-over, loses no email and doubles none; delivered and permanently failed emails leave the
// outbox. Real processes, PostgreSQL, Redis and an SMTP server.
import { once } from "node:events";
import t from "tap";
import type { FastifyInstance } from "fastify";
import { buildTestApp, generousLimits, newRedisPrefix } from "@temetro/test-support/auth-app";
import { startServer } from "@temetro/test-support/auth-process";
import { emailsTo, metricSample, PASSWORD, signUp, uniqueEmail } from "@temetro/test-support/auth-requests";
import { waitUntil } from "@temetro/test-support/polling";
import { SpareRedis } from "@temetro/test-support/spare-redis";
import { startTestMailer } from "./fixtures/mailer.js";

/** Rows of an app's outbox still owed (not deleted), decoys aside. */
async function owedRows(app: FastifyInstance): Promise<{ pending: number; handedOver: number }> {
  const { pending, handedOver } = await app.emailOutbox.backlog();
  return { pending, handedOver };
}

t.test("a replica SIGKILLed right after answering: every sign-up and reset it answered 200 gets exactly one email", async (t) => {
  const prefix = newRedisPrefix();
  // The replica that survives: it relays what the killed one stored.
  const { app, config } = await buildTestApp(t, { env: { REDIS_PREFIX: prefix } });
  const existing = [];
  for (let index = 0; index < 6; index += 1) existing.push(await signUp(app));
  await Promise.all(existing.map((user) => emailsTo(app, user.email)));

  const server = startServer({ ...generousLimits, REDIS_PREFIX: prefix });
  t.teardown(() => server.child.kill("SIGKILL"));
  const base = await server.baseUrl;

  // Twelve requests at once; the process dies the moment the first answer arrives, before a
  // background task could have stored anything.
  let killed = false;
  const kill = () => {
    if (killed) return;
    killed = true;
    server.child.kill("SIGKILL");
  };
  const post = (path: string, body: object) =>
    fetch(`${base}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }).then(
      (response) => {
        kill();
        return response.status;
      },
    );
  const signUps = Array.from({ length: 6 }, () => ({ email: uniqueEmail("killed") }));
  const outcomes = await Promise.allSettled([
    ...signUps.map(({ email }) => post("/api/auth/sign-up/email", { name: "Killed Replica", email, password: PASSWORD })),
    ...existing.map(({ email }) => post("/api/auth/forget-password", { email })),
  ]);
  if (server.child.exitCode === null && server.child.signalCode === null) await once(server.child, "exit");
  const answered = outcomes.map((outcome) => (outcome.status === "fulfilled" ? outcome.value : "no answer"));
  t.comment(`answers before and around the kill: ${answered.join(" ")}`);
  const signedUp = signUps.filter((_, index) => answered[index] === 200).map(({ email }) => email);
  const resetFor = existing.filter((_, index) => answered[signUps.length + index] === 200).map(({ email }) => email);
  t.ok(signedUp.length + resetFor.length > 0, "some requests were answered 200 before the kill");

  const { sink } = await startTestMailer(t, config);
  // Everything owed is delivered and confirmed: what the killed replica had claimed too, once its lease ended.
  await waitUntil(async () => {
    const owed = await owedRows(app);
    return owed.pending + owed.handedOver === 0;
  }, "the outbox to be empty");
  await sink.allRecorded();
  for (const email of signedUp) {
    t.equal(sink.to(email).filter((message) => /Confirm your email/.test(message.subject)).length, 1, `one verification email to ${email}`);
  }
  for (const email of resetFor) {
    t.equal(sink.to(email).filter((message) => /Reset your temetro password/.test(message.subject)).length, 1, `one reset email to ${email}`);
  }
});

t.test("Redis restarted empty after the hand-over, before delivery: the relay hands the emails over again and each is delivered once; delivered rows leave the outbox", async (t) => {
  const redis = await SpareRedis.start(t);
  const { app, config } = await buildTestApp(t, { env: { REDIS_URL: redis.url } });
  const users = [];
  for (let index = 0; index < 5; index += 1) users.push(await signUp(app));
  await app.emailOutbox.flush();
  t.same(await owedRows(app), { pending: 0, handedOver: 5 }, "handed over, still owed");
  t.equal((await app.emailQueue.getJobCounts("waiting")).waiting, 5);

  await redis.down();
  await redis.up(); // no persistence: the queue is gone
  await waitUntil(async () => (await app.emailQueue.getJobCounts("waiting").catch(() => ({ waiting: -1 }))).waiting === 0, "Redis to answer again");

  // The relay asks Redis about each email once its grace period is over: no job, no mark.
  await waitUntil(
    async () => metricSample(await app.metrics.registry.metrics(), "auth_email_outbox_handed_over_again_total", {}) === 5,
    "the lost emails to be handed over again",
  );
  t.equal((await app.emailQueue.getJobCounts("waiting")).waiting, 5, "on the queue again");

  const { sink } = await startTestMailer(t, config);
  await sink.waitForTotal(users.length);
  await waitUntil(async () => {
    const owed = await owedRows(app);
    return owed.pending + owed.handedOver === 0;
  }, "delivered rows to leave the outbox");
  await sink.allRecorded();
  for (const user of users) t.equal(sink.to(user.email).length, 1, "exactly one verification email");
  t.equal(sink.received.length, users.length);
});

t.test("an email the SMTP server refuses for good leaves the outbox: it waits in the failed set for failed-emails", async (t) => {
  const { app, config } = await buildTestApp(t);
  const { sink } = await startTestMailer(t, config);
  const email = uniqueEmail("refused");
  sink.refused.add(email);
  await signUp(app, { email });
  await waitUntil(async () => (await app.emailQueue.getJobCounts("failed")).failed === 1, "the job to fail");
  await waitUntil(async () => {
    const owed = await owedRows(app);
    return owed.pending + owed.handedOver === 0;
  }, "the row to leave the outbox");
  t.equal((await app.emailQueue.getFailed()).length, 1, "kept for an operator's resend");
});
