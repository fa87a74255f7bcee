// The mailer's HTTP listener: /health/live and /health/ready for Kubernetes' probes, /metrics for Prometheus.
import { Queue } from "bullmq";
import t, { type Test } from "tap";
import { createRedis, EMAIL_QUEUE_NAME, emailIdempotencyKey, emailJobOptions, type EmailJob } from "@temetro/shared";
import type { Config } from "@temetro/auth/config";
import { testConfig } from "@temetro/test-support/auth-app";
import { metricSample, uniqueEmail } from "@temetro/test-support/auth-requests";
import { waitUntil } from "@temetro/test-support/polling";
import { SpareRedis } from "@temetro/test-support/spare-redis";
import type { Mailer } from "../src/worker.js";
import { buildTestMailerHttp, startTestMailer } from "./fixtures/mailer.js";

/** Puts emails on the queue as the auth service's relay does (same name, options and job ids). */
async function enqueue(t: Test, config: Config, jobs: EmailJob[]): Promise<void> {
  const connection = createRedis(config.redis, "worker");
  const queue = new Queue<EmailJob>(EMAIL_QUEUE_NAME, { connection, prefix: config.redisPrefix, defaultJobOptions: emailJobOptions });
  t.teardown(async () => {
    await queue.close();
    connection.disconnect();
  });
  for (const job of jobs) await queue.add(job.kind, job, { jobId: emailIdempotencyKey(job) });
}

/**
 * Waits until the mailer delivers an email again after a Redis outage: its connections are back.
 * (Closing a worker whose connection is still reconnecting waits for the reconnection.)
 */
async function deliversAgain(t: Test, config: Config, mailer: Mailer): Promise<void> {
  const before = mailer.counts().sent;
  await enqueue(t, config, [verification()]);
  await waitUntil(() => mailer.counts().sent > before, "an email delivered after the outage");
}

const verification = (to = uniqueEmail()): EmailJob => ({ kind: "verify-email", to, name: "Amina", url: "http://localhost:4000/api/auth/verify-email?token=t" });
const reset = (to = uniqueEmail()): EmailJob => ({ kind: "reset-password", to, name: "Amina", url: "http://localhost:4000/api/auth/reset-password/t" });

t.test("live answers 200; ready answers 200 when Redis answers and the worker takes jobs", async (t) => {
  const config = testConfig();
  const testMailer = await startTestMailer(t, config);
  const http = await buildTestMailerHttp(t, testMailer, config);

  const live = await http.inject({ method: "GET", url: "/health/live" });
  t.equal(live.statusCode, 200);
  t.same(live.json(), { status: "ok" });
  const ready = await http.inject({ method: "GET", url: "/health/ready" });
  t.equal(ready.statusCode, 200);
  // PostgreSQL (where deliveries are confirmed) is reported too, never as a reason to be unready.
  t.match(ready.json(), { status: "ready", checks: { redis: "ok", worker: "ok", postgres: String } });
});

t.test("ready answers 503 naming Redis when nothing listens at REDIS_URL; live still 200", async (t) => {
  const config = testConfig();
  const testMailer = await startTestMailer(t, config);
  const http = await buildTestMailerHttp(t, testMailer, { redis: "redis://127.0.0.1:2" });

  const ready = await http.inject({ method: "GET", url: "/health/ready" });
  t.equal(ready.statusCode, 503);
  t.match(ready.json(), { code: "NOT_READY", error: "Not ready: redis unavailable", checks: { worker: "ok" } });
  t.not(ready.json().checks.redis, "ok");
  t.equal((await http.inject({ method: "GET", url: "/health/live" })).statusCode, 200);
});

t.test("a Redis outage: ready answers 503 while it lasts and 200 again once Redis is back", async (t) => {
  const redis = await SpareRedis.start(t);
  const config = testConfig({ REDIS_URL: redis.url });
  const testMailer = await startTestMailer(t, config);
  const http = await buildTestMailerHttp(t, testMailer, config);
  t.equal((await http.inject({ method: "GET", url: "/health/ready" })).statusCode, 200);

  await redis.down();
  const ready = await http.inject({ method: "GET", url: "/health/ready" });
  t.equal(ready.statusCode, 503);
  t.match(ready.json(), { code: "NOT_READY", error: "Not ready: redis unavailable" });

  await redis.up();
  // The listener reconnects with a backoff: ready again within a bound, not at a set instant.
  await waitUntil(async () => (await http.inject({ method: "GET", url: "/health/ready" })).statusCode === 200, "ready again");
  t.pass("ready again once Redis is back");
  await deliversAgain(t, config, testMailer.mailer);
});

t.test("once shutdown begins, ready answers 503 SHUTTING_DOWN while live stays 200", async (t) => {
  const config = testConfig();
  const testMailer = await startTestMailer(t, config);
  const http = await buildTestMailerHttp(t, testMailer, config);

  http.beginShutdown();
  const ready = await http.inject({ method: "GET", url: "/health/ready" });
  t.equal(ready.statusCode, 503);
  t.same(ready.json(), { error: "Shutting down", code: "SHUTTING_DOWN", message: "Shutting down" });
  t.equal((await http.inject({ method: "GET", url: "/health/live" })).statusCode, 200);
});

t.test("ready answers 503 naming the worker once it stopped taking jobs", async (t) => {
  const config = testConfig();
  const testMailer = await startTestMailer(t, config);
  const http = await buildTestMailerHttp(t, testMailer, config);

  await testMailer.mailer.close();
  const ready = await http.inject({ method: "GET", url: "/health/ready" });
  t.equal(ready.statusCode, 503);
  t.match(ready.json(), { code: "NOT_READY", error: "Not ready: worker unavailable", checks: { redis: "ok", worker: "not taking jobs" } });
});

t.test("/metrics counts emails sent, retried and failed by kind, and the queue's depth by state", async (t) => {
  const config = testConfig();
  const testMailer = await startTestMailer(t, config);
  const { mailer, sink } = testMailer;
  const http = await buildTestMailerHttp(t, testMailer, config);
  const refused = uniqueEmail("unknown-mailbox");
  sink.refused.add(refused);
  const greylisted = uniqueEmail("greylisted");
  sink.deferred.add(greylisted);

  await enqueue(t, config, [verification(), verification(), verification(), reset(), reset(refused), verification(greylisted)]);
  await sink.waitForTotal(4);
  await waitUntil(() => {
    const counts = mailer.counts();
    return counts.sent === 4 && counts.failed === 1 && counts.retried >= 1;
  }, "4 sent, 1 failed, 1 retried");

  const response = await http.inject({ method: "GET", url: "/metrics" });
  t.equal(response.statusCode, 200);
  t.match(response.headers["content-type"], /^text\/plain; version=0\.0\.4/);
  const text = response.body;
  const value = (name: string, labels: Record<string, string>) => metricSample(text, name, { service: "mailer", ...labels });
  t.equal(value("mailer_emails_sent_total", { kind: "verify-email" }), 3);
  t.equal(value("mailer_emails_sent_total", { kind: "reset-password" }), 1);
  t.equal(value("mailer_emails_sent_total", { kind: "invitation" }), 0, "every kind is reported from the start");
  t.equal(value("mailer_emails_failed_total", { kind: "reset-password" }), 1, "the refused recipient, not retried");
  t.equal(value("mailer_emails_failed_total", { kind: "verify-email" }), 0);
  t.equal(value("mailer_emails_retried_total", { kind: "verify-email" }), 1, "the greylisted attempt");
  t.equal(value("mailer_duplicates_skipped_total", {}), 0);
  t.equal(value("mailer_queue_jobs", { state: "failed" }), 1, "the refused email is kept for a resend");
  t.equal(value("mailer_queue_jobs", { state: "delayed" }), 1, "the greylisted email waits for its retry");
  t.equal(value("mailer_queue_jobs", { state: "waiting" }), 0);
  t.equal(value("mailer_queue_jobs", { state: "active" }), 0);
  t.match(text, /nodejs_eventloop_lag_seconds\{service="mailer"\}/);
  t.match(text, /process_cpu_user_seconds_total\{service="mailer"\}/);
  t.notMatch(text, /token=|unknown-mailbox/, "no link and no address in a label");
});

t.test("/metrics still answers with the counters while Redis is down, leaving out the queue's depth", async (t) => {
  const redis = await SpareRedis.start(t);
  const config = testConfig({ REDIS_URL: redis.url });
  const testMailer = await startTestMailer(t, config);
  const http = await buildTestMailerHttp(t, testMailer, config);
  await enqueue(t, config, [verification()]);
  await waitUntil(() => testMailer.mailer.counts().sent === 1, "the email to be sent");

  await redis.down();
  const response = await http.inject({ method: "GET", url: "/metrics" });
  t.equal(response.statusCode, 200);
  t.equal(metricSample(response.body, "mailer_emails_sent_total", { kind: "verify-email" }), 1);
  t.notMatch(response.body, /^mailer_queue_jobs\{/m, "no stale queue depth");
  t.match(testMailer.logText(), /queue depth unavailable for \/metrics/);
  await redis.up();
  await waitUntil(async () => (await http.inject({ method: "GET", url: "/metrics" })).body.includes("mailer_queue_jobs{"), "the queue depth back");
  t.pass("the queue depth is back once Redis is");
  await deliversAgain(t, config, testMailer.mailer);
});
