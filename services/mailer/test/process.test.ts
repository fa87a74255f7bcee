// The mailer as a process: killed with SIGKILL in the middle of a batch it loses and doubles
// nothing after a restart; SIGTERM finishes the email in flight and takes no new one.
import { once } from "node:events";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import t, { type Test } from "tap";
import type { Config } from "@temetro/auth/config";
import { buildTestApp, testConfig, testRedisUrl } from "@temetro/test-support/auth-app";
import { signUp } from "@temetro/test-support/auth-requests";
import { waitUntil } from "@temetro/test-support/polling";
import { startCollected, typeScriptEntry, type CollectedProcess } from "@temetro/test-support/processes";
import { SmtpSink } from "@temetro/test-support/smtp-sink";
import { SpareRedis } from "@temetro/test-support/spare-redis";
import { deliveredMarkKey } from "../src/worker.js";

const mainPath = fileURLToPath(new URL("../src/main.ts", import.meta.url));

type WorkerProcess = CollectedProcess;

function startWorkerProcess(config: Config, sink: SmtpSink, env: Record<string, string> = {}): WorkerProcess {
  return startCollected(process.execPath, typeScriptEntry(mainPath), {
    env: {
      PATH: process.env.PATH,
      REDIS_URL: testRedisUrl,
      REDIS_PREFIX: config.redisPrefix,
      FRONTEND_URL: config.frontendUrl,
      SMTP_URL: sink.url,
      MAILER_LOCK_DURATION_MS: "2000",
      MAILER_HTTP_PORT: "0",
      ...env,
    },
  });
}

/** The address of a mailer process's HTTP listener (it listens on a free port), from its start line. */
async function httpAddressOf(worker: WorkerProcess): Promise<string> {
  let address: string | undefined;
  await waitUntil(() => {
    const started = worker.output().split("\n").find((line) => line.includes('"msg":"mailer started"'));
    address = started ? (JSON.parse(started) as { http: string }).http : undefined;
    return address !== undefined;
  }, "the mailer to start");
  return address!;
}

/** Signs up `count` users and waits until their verification emails are on the queue. */
async function queueVerificationEmails(t: Test, count: number) {
  const { app, config } = await buildTestApp(t);
  const users = [];
  for (let index = 0; index < count; index += 1) users.push(await signUp(app));
  await app.emailOutbox.flush();
  return { app, config, users };
}

t.test("SIGKILL in the middle of a batch, then a restart: every email arrives, none twice", async (t) => {
  const { app, config, users } = await queueVerificationEmails(t, 20);
  const sink = await SmtpSink.start();
  t.teardown(() => sink.stop());
  const redis = new Redis(testRedisUrl);
  t.teardown(() => redis.disconnect());

  // After five accepted emails the server holds its answers: the emails in flight stay in flight,
  // however fast the worker is.
  sink.holdAfter = 5;
  const first = startWorkerProcess(config, sink, { MAILER_CONCURRENCY: "4" });
  t.teardown(() => first.child.kill("SIGKILL"));
  await sink.heldAtLeast(1);
  // Crash where exactly-once is decidable: every email the server accepted is marked delivered.
  await sink.allRecorded();
  await waitUntil(async () => {
    const marks = await Promise.all(
      sink.received.map((email) => redis.exists(deliveredMarkKey(config.redisPrefix, email.messageId.replace(/^<|@temetro>$/g, "")))),
    );
    return marks.every((exists) => exists === 1);
  }, "delivered marks");
  first.child.kill("SIGKILL");
  await once(first.child, "exit");
  await waitUntil(() => sink.connections === 0, "the killed worker's connections to close");
  sink.releaseHeld(); // their clients are gone: not accepted, as with a real server
  const deliveredBeforeCrash = sink.received.length;
  t.ok(deliveredBeforeCrash < users.length, `the crash came mid-batch (${deliveredBeforeCrash} of ${users.length} delivered)`);

  const second = startWorkerProcess(config, sink, { MAILER_CONCURRENCY: "4" });
  t.teardown(() => second.child.kill("SIGKILL"));
  await sink.waitForTotal(users.length);
  await waitUntil(async () => {
    const counts = await app.emailQueue.getJobCounts("waiting", "delayed", "active", "failed");
    return counts.waiting === 0 && counts.delayed === 0 && counts.active === 0;
  }, "an empty queue");
  await sink.allRecorded();
  for (const user of users) t.equal(sink.to(user.email).length, 1, "exactly one verification email");
  t.equal(sink.received.length, users.length);

  second.child.kill("SIGTERM");
  const [code] = await once(second.child, "exit");
  t.equal(code, 0);
});

t.test("after a SIGKILL, the emails in flight go out again within the lock duration plus the stalled-job check interval", async (t) => {
  const lockDurationMs = 2000;
  // The README's figure: the lock duration plus a check every sixth of it.
  const boundMs = lockDurationMs + Math.ceil(lockDurationMs / 6);
  const { config, users } = await queueVerificationEmails(t, 2);
  const sink = await SmtpSink.start();
  t.teardown(() => sink.stop());
  const env = { MAILER_CONCURRENCY: "2", MAILER_LOCK_DURATION_MS: String(lockDurationMs) };
  sink.holdAnswers = true;
  const crashing = startWorkerProcess(config, sink, env);
  t.teardown(() => crashing.child.kill("SIGKILL"));
  await sink.heldAtLeast(users.length);
  // Another mailer is up and idle: it takes the emails up once the crashed one's locks are found stale.
  const survivor = startWorkerProcess(config, sink, env);
  t.teardown(() => survivor.child.kill("SIGKILL"));
  await httpAddressOf(survivor);

  crashing.child.kill("SIGKILL");
  const killedAt = Date.now();
  await once(crashing.child, "exit");
  await waitUntil(() => sink.connections === 0, "the killed mailer's connections to close");
  sink.releaseHeld(); // their clients are gone: not accepted

  await sink.waitForTotal(users.length, boundMs + 30_000);
  const elapsedMs = Date.now() - killedAt;
  t.comment(`redelivered ${elapsedMs} ms after the crash (lock ${lockDurationMs} ms, bound ${boundMs} ms)`);
  // The bound, plus the time to send two emails to a local server.
  t.ok(elapsedMs <= boundMs + 500, `taken up again within the lock duration plus the check interval (${elapsedMs} ms, bound ${boundMs} ms)`);
  for (const user of users) t.equal(sink.to(user.email).length, 1, "exactly one verification email");
});

t.test("SIGTERM: readiness fails at once, the email in flight is finished, no new one is taken, the process exits 0", async (t) => {
  const { app, config } = await queueVerificationEmails(t, 4);
  const sink = await SmtpSink.start();
  t.teardown(() => sink.stop());
  sink.holdAnswers = true;

  const worker = startWorkerProcess(config, sink, { MAILER_CONCURRENCY: "1" });
  t.teardown(() => worker.child.kill("SIGKILL"));
  const http = await httpAddressOf(worker);
  await sink.heldAtLeast(1);
  t.equal((await fetch(`${http}/health/ready`)).status, 200, "ready while it works");
  worker.child.kill("SIGTERM");
  await waitUntil(() => worker.output().includes("finishing the emails in flight"), "the stop to begin");
  // The email is still in flight: the probes are answered meanwhile.
  const ready = await fetch(`${http}/health/ready`);
  t.equal(ready.status, 503);
  t.same(await ready.json(), { error: "Shutting down", code: "SHUTTING_DOWN", message: "Shutting down" });
  t.equal((await fetch(`${http}/health/live`)).status, 200, "alive while it finishes");
  sink.releaseHeld();

  const [code] = await once(worker.child, "exit");
  t.equal(code, 0);
  t.match(worker.output(), /mailer stopped/);
  await sink.allRecorded();
  t.equal(sink.received.length, 1, "the email in flight was delivered");
  const counts = await app.emailQueue.getJobCounts("waiting", "active", "completed");
  t.same(counts, { waiting: 3, active: 0, completed: 0 }, "the others wait for the next mailer; the sent one is removed");
});

t.test("in production without SMTP the mailer refuses to start: it would print reset links to the log", async (t) => {
  const mailer = startCollected(process.execPath, typeScriptEntry(mainPath), {
    env: { PATH: process.env.PATH, NODE_ENV: "production", REDIS_URL: testRedisUrl },
  });
  const [code] = await mailer.exited;
  t.equal(code, 1);
  t.match(mailer.output(), /SMTP_URL or SMTP_HOST is required when NODE_ENV=production/);
});

t.test("a bad variable stops the start with its name and the reason", async (t) => {
  const mailer = startCollected(process.execPath, typeScriptEntry(mainPath), {
    env: { PATH: process.env.PATH, MAILER_CONCURRENCY: "lots" },
  });
  const [code] = await mailer.exited;
  t.equal(code, 1);
  t.match(mailer.output(), /MAILER_CONCURRENCY: must be a whole number/);
});

t.test("SIGTERM while Redis is gone: the mailer stops within its bound instead of waiting for Redis", async (t) => {
  const redis = await SpareRedis.start(t);
  const config = testConfig({ REDIS_URL: redis.url });
  const sink = await SmtpSink.start();
  t.teardown(() => sink.stop());
  const worker = startWorkerProcess(config, sink);
  t.teardown(() => worker.child.kill("SIGKILL"));
  await httpAddressOf(worker);

  await redis.down();
  const started = Date.now();
  worker.child.kill("SIGTERM");
  const [code] = worker.child.exitCode !== null ? [worker.child.exitCode] : await once(worker.child, "exit");
  t.equal(code, 0, "exits cleanly");
  t.ok(Date.now() - started < 29_000, "before the 30 s hard stop of close-with-grace");
});

t.test("without SMTP and with LOG_FORMAT=pretty the mailer prints each email as text, its link on a line of its own", async (t) => {
  const { app, config } = await buildTestApp(t);
  const mailer = startCollected(process.execPath, typeScriptEntry(mainPath), {
    env: {
      PATH: process.env.PATH,
      REDIS_URL: testRedisUrl,
      REDIS_PREFIX: config.redisPrefix,
      FRONTEND_URL: config.frontendUrl,
      MAILER_HTTP_PORT: "0",
      LOG_FORMAT: "pretty",
    },
  });
  t.teardown(() => mailer.child.kill("SIGKILL"));
  const { email } = await signUp(app);
  await app.emailOutbox.flush();
  await waitUntil(() => mailer.output().includes(`To: ${email}`), "the email to be printed", 60_000);
  const lines = mailer.output().split("\n");
  t.ok(lines.some((line) => /^\[[\d:.]+\] INFO \(mailer\): email printed, not sent/.test(line)), "a readable log line with its level");
  t.ok(lines.some((line) => /^\s*Subject: .*temetro/.test(line)), "the subject on its own line");
  t.ok(
    lines.some((line) => line.trim().startsWith(`${config.betterAuthUrl}/api/auth/verify-email?token=`) && !line.trim().includes(" ")),
    "the link alone on its line, ready to click",
  );
  t.notOk(lines.some((line) => line.startsWith("{")), "no JSON line");
});

t.test("a MAILER_HTTP_PORT already in use names the variable to change", async (t) => {
  const blocker = createServer();
  blocker.listen(0, "127.0.0.1");
  await once(blocker, "listening");
  t.teardown(() => blocker.close());
  const port = (blocker.address() as { port: number }).port;
  const mailer = startCollected(process.execPath, typeScriptEntry(mainPath), {
    env: { PATH: process.env.PATH, REDIS_URL: testRedisUrl, HOST: "127.0.0.1", MAILER_HTTP_PORT: String(port) },
  });
  t.teardown(() => mailer.child.kill("SIGKILL"));
  const [code] = await mailer.exited;
  t.equal(code, 1);
  t.match(mailer.output(), `port ${port} is already in use: stop what runs there or set MAILER_HTTP_PORT to a free port`);
});
