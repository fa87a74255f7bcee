// Delivery is confirmed in PostgreSQL, the outbox's source of truth (issue 10, "a 200 means the
// email is durable"): a Redis restarted empty loses the mailer's delivered marks, yet no email is
// sent twice; a row confirmed delivered is never handed over again; a failed email resent after
// its row is gone still goes out; and a mailer that cannot reach PostgreSQL still delivers
// (degraded, on its Redis marks) and says so. Real PostgreSQL, a Redis of the test's own where it
// is restarted, an in-process SMTP server.
import { once } from "node:events";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { Queue } from "bullmq";
import type { FastifyInstance } from "fastify";
import t, { type Test } from "tap";
import { createRedis, deliveredMarkKey, EMAIL_QUEUE_NAME, emailIdempotencyKey, emailJobOptions, type EmailJob } from "@temetro/shared";
import { buildTestApp, testConfig } from "@temetro/test-support/auth-app";
import { metricSample, signUp, uniqueEmail } from "@temetro/test-support/auth-requests";
import { waitUntil } from "@temetro/test-support/polling";
import { freePort, SpareRedis } from "@temetro/test-support/spare-redis";
import { resendFailedEmails } from "../src/failed-jobs.js";
import { buildTestMailerHttp, startTestMailer } from "./fixtures/mailer.js";

/** The rows of an app's queue the outbox still owes: not confirmed delivered (decoys aside). */
async function outboxRows(app: FastifyInstance, prefix: string): Promise<number> {
  const { rows } = await app.pg.query<{ count: string }>(
    "SELECT count(*) FROM email_outbox WHERE queue_prefix = $1 AND NOT decoy AND delivered_at IS NULL",
    [prefix],
  );
  return Number(rows[0]!.count);
}

async function handedOverAgain(app: FastifyInstance): Promise<number | undefined> {
  return metricSample(await app.metrics.registry.metrics(), "auth_email_outbox_handed_over_again_total", {});
}

/** The relay's grace period before it asks Redis whether a handed-over email went out (email/outbox.ts). */
const CONFIRM_AFTER_MS = 10_000;

t.test("emails delivered, then Redis restarted empty before the relay's confirmation pass: none is delivered a second time, and the rows leave the outbox", async (t) => {
  const redis = await SpareRedis.start(t);
  const { app, config } = await buildTestApp(t, { env: { REDIS_URL: redis.url } });
  const { mailer, sink } = await startTestMailer(t, config);
  const users = [];
  for (let index = 0; index < 5; index += 1) users.push(await signUp(app));
  const handedOverBy = Date.now();
  // Sent means accepted by the SMTP server and recorded (confirmation, then the Redis mark).
  await waitUntil(() => mailer.counts().sent === users.length, "the emails to be delivered");

  // Within the relay's grace period: it has not yet seen a delivered mark. Without persistence
  // Redis comes back with neither the jobs nor the marks.
  t.ok(Date.now() - handedOverBy < CONFIRM_AFTER_MS, "Redis restarted before the relay's confirmation pass");
  await redis.down();
  await redis.up();
  await waitUntil(async () => (await app.emailQueue.getJobCounts("waiting").catch(() => ({ waiting: -1 }))).waiting === 0, "Redis to answer again");

  await waitUntil(async () => (await outboxRows(app, config.redisPrefix)) === 0, "the delivered rows to be owed no more");
  // Past the grace period, and a couple of relay passes more: nothing was handed over again.
  await sleep(Math.max(0, handedOverBy + CONFIRM_AFTER_MS + 3000 - Date.now()));
  const jobs = await app.emailQueue.getJobCounts("waiting", "active", "delayed");
  t.same(jobs, { waiting: 0, active: 0, delayed: 0 }, "nothing on the queue again");
  t.equal(await handedOverAgain(app), 0, "no email handed over again");
  await sink.allRecorded();
  for (const user of users) t.equal(sink.to(user.email).length, 1, `exactly one verification email to ${user.email}`);
  t.equal(sink.received.length, users.length);
  t.equal(mailer.counts().sent, users.length);
});

t.test("a row confirmed delivered is never handed over again, even with its job and Redis mark gone", async (t) => {
  const { app, config } = await buildTestApp(t);
  await signUp(app);
  await app.emailOutbox.flush();
  const { rows } = await app.pg.query<{ job_id: string }>("SELECT job_id FROM email_outbox WHERE queue_prefix = $1 AND NOT decoy", [config.redisPrefix]);
  t.equal(rows.length, 1, "handed over, still owed");
  const jobId = rows[0]!.job_id;

  // The relay is stopped so that the test decides when it runs. Redis loses the job (restarted
  // empty; there is no mark either) while the mailer's confirmation sits in PostgreSQL, and the
  // row is due (its grace period over).
  await app.emailOutbox.stop();
  await app.emailQueue.remove(jobId);
  t.equal(await app.emailQueue.getJob(jobId), undefined, "Redis has lost the job");
  await app.pg.query("UPDATE email_outbox SET delivered_at = now(), due_at = now() WHERE queue_prefix = $1 AND job_id = $2", [
    config.redisPrefix,
    jobId,
  ]);

  await app.emailOutbox.flush();
  t.equal(await app.emailQueue.getJob(jobId), undefined, "not handed over again");
  t.equal(await handedOverAgain(app), 0);
  t.equal(await outboxRows(app, config.redisPrefix), 0, "the confirmed row is owed no more");
  t.same(await app.emailOutbox.backlog(), { pending: 0, handedOver: 0, oldestAgeSeconds: 0 });
});

t.test("a job a Redis failover brings back after its delivery, without its mark, is not sent again", async (t) => {
  const { app, config } = await buildTestApp(t);
  const { mailer, sink } = await startTestMailer(t, config);
  const { email } = await signUp(app);
  await sink.waitFor(email);
  await waitUntil(() => mailer.counts().sent === 1, "the email to be recorded as sent");
  await app.emailOutbox.flush();
  const { rows } = await app.pg.query<{ job_id: string; job: EmailJob; delivered: boolean }>(
    "SELECT job_id, job, delivered_at IS NOT NULL AS delivered FROM email_outbox WHERE queue_prefix = $1 AND NOT decoy",
    [config.redisPrefix],
  );
  t.same(rows.map((row) => row.delivered), [true], "the delivered row is kept as the record of the delivery");

  // A promoted replica that never saw the completion nor the mark: the job is back, the mark gone.
  const { job_id: jobId, job } = rows[0]!;
  const redis = createRedis(config.redis, "worker");
  t.teardown(() => redis.disconnect());
  await redis.del(deliveredMarkKey(config.redisPrefix, jobId));
  await app.emailQueue.add(job.kind, job, { jobId });
  await waitUntil(() => mailer.counts().duplicatesSkipped === 1, "the mailer to take the job up again");
  await sink.allRecorded();
  t.equal(sink.to(email).length, 1, "one email, not two");
});

t.test("a failed email resent with failed-emails, its outbox row long gone, is still sent (a missing row is not a delivery)", async (t) => {
  const { app, config } = await buildTestApp(t);
  const { mailer, sink } = await startTestMailer(t, config);
  const email = uniqueEmail("resent");
  sink.refused.add(email);
  await signUp(app, { email });
  await waitUntil(async () => (await app.emailQueue.getJobCounts("failed")).failed === 1, "the job to fail");
  await waitUntil(async () => (await outboxRows(app, config.redisPrefix)) === 0, "the failed email's row to leave the outbox");

  sink.refused.delete(email);
  const { resent, notFailed } = await resendFailedEmails(app.emailQueue);
  t.equal(resent.length, 1);
  t.same(notFailed, []);
  const [message] = await sink.waitFor(email);
  t.match(message!.subject, /Confirm your email/);
  await waitUntil(() => mailer.counts().sent === 1, "the email to be recorded as sent");
  t.equal(mailer.counts().duplicatesSkipped, 0, "not taken for a delivered email");
  t.equal(mailer.counts().checksDegraded, 0, "PostgreSQL answered the check");
});

t.test("a mailer that cannot reach PostgreSQL still delivers, on its Redis marks alone, and says so", async (t) => {
  const config = testConfig({ DATABASE_URL: `postgres://postgres@127.0.0.1:${await freePort()}/temetro_auth` });
  const testMailer = await startTestMailer(t, config);
  const { mailer, sink, logText } = testMailer;
  const connection = createRedis(config.redis, "worker");
  const queue = new Queue<EmailJob>(EMAIL_QUEUE_NAME, { connection, prefix: config.redisPrefix, defaultJobOptions: emailJobOptions });
  t.teardown(async () => {
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
    connection.disconnect();
  });
  const job: EmailJob = { kind: "reset-password", to: uniqueEmail("degraded"), name: "Amina", url: "http://localhost:4000/api/auth/reset-password/secret-token-4711" };
  const jobId = emailIdempotencyKey(job);
  await queue.add(job.kind, job, { jobId });

  await sink.waitFor(job.to);
  await waitUntil(() => mailer.counts().sent === 1, "the email to be recorded as sent");
  t.equal(mailer.counts().checksDegraded, 1, "checked against the Redis mark alone");
  t.equal(mailer.counts().confirmationsFailed, 1, "its delivery could not be confirmed in PostgreSQL");
  t.match(logText(), /PostgreSQL unreachable: deliveries are checked and recorded by Redis marks alone \(degraded/);
  t.match(logText(), /email sent but its delivery could not be confirmed in PostgreSQL: recorded in Redis meanwhile, confirmation retried/);
  t.notMatch(logText(), /secret-token-4711/, "no link in the log");

  const http = await buildTestMailerHttp(t, testMailer, config);
  const ready = await http.inject({ method: "GET", url: "/health/ready" });
  t.equal(ready.statusCode, 200, "ready: PostgreSQL is not needed to send");
  t.match(ready.json(), { status: "ready", checks: { redis: "ok", worker: "ok", postgres: /^degraded: / } });
  const metrics = (await http.inject({ method: "GET", url: "/metrics" })).body;
  t.equal(metricSample(metrics, "mailer_delivery_confirmations_failed_total", { service: "mailer" }), 1);
  t.equal(metricSample(metrics, "mailer_delivery_checks_degraded_total", { service: "mailer" }), 1);

  // Handed over again (its job already removed): the Redis mark still keeps it to one copy.
  await waitUntil(async () => (await queue.getJob(jobId)) === undefined, "the completed job to be removed");
  await queue.add(job.kind, job, { jobId });
  await waitUntil(() => mailer.counts().duplicatesSkipped === 1, "the duplicate to be recognised");
  t.equal(sink.to(job.to).length, 1, "one copy only");
});

/** A TCP path to the test's PostgreSQL that the test opens and cuts: closed, nothing listens on its port. */
class PostgresGate {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private constructor(readonly port: number) {}

  static async create(t: Test): Promise<PostgresGate> {
    const gate = new PostgresGate(await freePort());
    t.teardown(() => gate.close());
    return gate;
  }

  async open(target: URL): Promise<void> {
    const server = createServer((client) => {
      const upstream = createConnection({ host: target.hostname, port: Number(target.port || 5432) });
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on("error", () => {});
        socket.on("close", () => this.sockets.delete(socket));
      }
      client.pipe(upstream).pipe(client);
    });
    server.listen(this.port, "127.0.0.1");
    await once(server, "listening");
    this.server = server;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    if (server) await new Promise((resolve) => server.close(resolve));
  }
}

t.test("PostgreSQL unreachable when the email goes out: the mailer confirms it once PostgreSQL answers again", async (t) => {
  const { app, config } = await buildTestApp(t);
  const gate = await PostgresGate.create(t);
  const throughGate = new URL(config.databaseUrl);
  throughGate.port = String(gate.port);
  const { mailer, sink, logText } = await startTestMailer(t, config, { overrides: { databaseUrl: throughGate.toString() } });

  const user = await signUp(app);
  await sink.waitFor(user.email);
  await waitUntil(() => mailer.counts().confirmationsPending === 1, "the confirmation to wait for PostgreSQL");
  // The relay waits (the test decides when it runs): the row is owed, not confirmed.
  await app.emailOutbox.stop();
  const delivered = async () =>
    (
      await app.pg.query<{ delivered: boolean }>("SELECT delivered_at IS NOT NULL AS delivered FROM email_outbox WHERE queue_prefix = $1 AND NOT decoy", [
        config.redisPrefix,
      ])
    ).rows.map((row) => row.delivered);
  t.same(await delivered(), [false], "not confirmed while PostgreSQL is unreachable");

  await gate.open(new URL(config.databaseUrl));
  await waitUntil(() => mailer.counts().confirmationsPending === 0, "the confirmation to be retried");
  t.same(await delivered(), [true], "confirmed once PostgreSQL answers");
  t.match(logText(), /deliveries confirmed in PostgreSQL after it answered again/);
  t.match(logText(), /PostgreSQL reachable again/);
  await app.emailOutbox.flush();
  t.equal(await outboxRows(app, config.redisPrefix), 0, "the confirmed row is owed no more");
  t.equal(sink.to(user.email).length, 1);
});
