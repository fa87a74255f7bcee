import pg from "pg";
// `npm run bench`: emails per second the mailer delivers to a local SMTP sink, and the latency
// from a sign-up request to its verification email arriving at the sink (median, p99).
// Runs against the real PostgreSQL and Redis of the machine (its own database and key prefix).
import { randomUUID } from "node:crypto";
import { cpus, loadavg } from "node:os";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { SMTPServer } from "smtp-server";
import { EMAIL_QUEUE_NAME, emailIdempotencyKey, emailJobOptions, type EmailJob } from "@temetro/shared";
import { buildApp } from "@temetro/auth/app";
import { loadConfig as loadAuthConfig, type Config as AuthConfig } from "@temetro/auth/config";
import { migrate } from "@temetro/auth/db/migrate";
import { createServiceLogger } from "@temetro/auth/logger";
import { deleteKeysWithPrefix } from "@temetro/test-support/redis-keys";
import { loadConfig as loadMailerConfig, type Config as MailerConfig } from "../src/config.js";
import { createMailerLogger } from "../src/logger.js";
import { startMailer } from "../src/worker.js";

// Key prefixes of this benchmark start with `bench-mailer-`, so its keys are told apart from others'.
const THROUGHPUT_EMAILS = Number(process.env.BENCH_EMAILS ?? 2000);
const THROUGHPUT_RUNS = Number(process.env.BENCH_RUNS ?? 3);
const SIGNUPS = Number(process.env.BENCH_SIGNUPS ?? 200);
const CONCURRENCY = process.env.MAILER_CONCURRENCY ?? "8";

/** A sink that accepts every message and notes when it arrived, per recipient (no parsing: cheap). */
async function startSink(onMessage: (recipient: string) => void) {
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS", "AUTH"],
    logger: false,
    closeTimeout: 50,
    onData(stream, session, callback) {
      const recipient = session.envelope.rcptTo[0]?.address ?? "";
      stream.on("data", () => {});
      stream.on("end", () => {
        callback();
        onMessage(recipient);
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const { port } = server.server.address() as { port: number };
  return { url: `smtp://127.0.0.1:${port}`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

// A database of its own, made anew each run: no schema or rows of an earlier run (or branch) in the way.
const benchDatabaseUrl = "postgres://postgres@127.0.0.1:5432/temetro_mailer_bench";
if (!process.env.BENCH_DATABASE_URL) {
  const admin = new pg.Client({ connectionString: "postgres://postgres@127.0.0.1:5432/postgres" });
  await admin.connect();
  await admin.query("DROP DATABASE IF EXISTS temetro_mailer_bench WITH (FORCE)");
  await admin.end();
}

/** Every key prefix this run used: swept again at the end (a closing connection may still write one key). */
const usedPrefixes: string[] = [];

/** One environment for the auth service and the mailer of a run, as a deployment gives both. */
function benchConfig(prefix: string): AuthConfig & MailerConfig {
  usedPrefixes.push(prefix);
  const env = {
    ...process.env,
    DATABASE_URL: process.env.BENCH_DATABASE_URL ?? benchDatabaseUrl,
    REDIS_URL: redisUrl,
    REDIS_PREFIX: prefix,
    BETTER_AUTH_SECRET: "bench-secret-that-is-long-enough-for-better-auth",
    MAILER_CONCURRENCY: CONCURRENCY,
    LOG_LEVEL: "warn",
    // 200 sign-ups from one address in a minute: lift the per-address budget for the measurement.
    RATE_LIMIT_SIGN_UP: "100000",
  };
  return { ...loadAuthConfig(env), ...loadMailerConfig(env) };
}

const median = (values: number[]) => percentile(values, 50);
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Queue `count` emails first, then time a fresh mailer draining them into the sink. */
async function throughputRun(): Promise<number> {
  const prefix = `bench-mailer-${randomUUID().slice(0, 8)}`;
  const config = benchConfig(prefix);
  let arrived = 0;
  let allArrived!: () => void;
  const done = new Promise<void>((resolve) => (allArrived = resolve));
  const sink = await startSink(() => {
    arrived += 1;
    if (arrived === THROUGHPUT_EMAILS) allArrived();
  });
  const producer = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue<EmailJob>(EMAIL_QUEUE_NAME, { connection: producer, prefix, defaultJobOptions: emailJobOptions });
  const jobs: EmailJob[] = Array.from({ length: THROUGHPUT_EMAILS }, (_, index) => ({
    kind: "verify-email",
    to: `bench-${index}@example.com`,
    name: `Bench User ${index}`,
    url: `http://localhost:4000/api/auth/verify-email?token=${randomUUID()}`,
  }));
  for (let start = 0; start < jobs.length; start += 500) {
    await queue.addBulk(jobs.slice(start, start + 500).map((job) => ({ name: job.kind, data: job, opts: { jobId: emailIdempotencyKey(job) } })));
  }

  const started = performance.now();
  const mailer = startMailer({ config: { ...config, smtp: { url: sink.url } }, logger: createMailerLogger(config) });
  await done;
  const seconds = (performance.now() - started) / 1000;

  await mailer.close();
  await sink.close();
  await queue.close();
  producer.disconnect();
  await deleteKeysWithPrefix(redisUrl, prefix);
  return THROUGHPUT_EMAILS / seconds;
}

/** Sign-ups through the auth service, one after another; each timed until its email is at the sink. */
async function latencyRun(): Promise<number[]> {
  const prefix = `bench-mailer-${randomUUID().slice(0, 8)}`;
  const config = benchConfig(prefix);
  const logger = createServiceLogger(config);
  await migrate(config, logger);
  const arrivals = new Map<string, () => void>();
  const sink = await startSink((recipient) => arrivals.get(recipient)?.());
  const app = await buildApp({ config, logger });
  await app.ready();
  const mailer = startMailer({ config: { ...config, smtp: { url: sink.url } }, logger: createMailerLogger(config) });

  const latencies: number[] = [];
  for (let index = 0; index < SIGNUPS; index += 1) {
    const email = `bench-${randomUUID()}@example.com`;
    const arrived = new Promise<void>((resolve) => arrivals.set(email, resolve));
    const started = performance.now();
    const response = await app.inject({
      method: "POST",
      url: "/api/auth/sign-up/email",
      payload: { name: "Bench User", email, password: "a-long-secure-password" },
    });
    if (response.statusCode !== 200) throw new Error(`sign-up failed: ${response.statusCode}`);
    await arrived;
    latencies.push(performance.now() - started);
    arrivals.delete(email);
  }

  await mailer.close();
  await app.close();
  await sink.close();
  await deleteKeysWithPrefix(redisUrl, prefix);
  return latencies;
}

console.log(
  `mailer bench: ${cpus().length} CPU(s) (${cpus()[0]?.model ?? "unknown"}), load average ${loadavg()
    .map((value) => value.toFixed(2))
    .join(" ")} at start; MAILER_CONCURRENCY=${CONCURRENCY}; SMTP sink in the same process`,
);

const rates: number[] = [];
for (let run = 1; run <= THROUGHPUT_RUNS; run += 1) {
  const rate = await throughputRun();
  rates.push(rate);
  console.log(`  throughput run ${run}: ${rate.toFixed(0)} emails/s (${THROUGHPUT_EMAILS} emails)`);
}
console.log(
  `throughput: median ${median(rates).toFixed(0)} emails/s over ${THROUGHPUT_RUNS} runs (min ${Math.min(...rates).toFixed(0)}, max ${Math.max(...rates).toFixed(0)}; max/min ${(Math.max(...rates) / Math.min(...rates)).toFixed(2)})`,
);

const latencies = await latencyRun();
console.log(
  `sign-up to arrival: median ${median(latencies).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms, ` +
    `min ${Math.min(...latencies).toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms over ${SIGNUPS} sequential sign-ups ` +
    `(includes the argon2id hash and the HTTP handling of the sign-up)`,
);
console.log(`load average at end: ${loadavg().map((value) => value.toFixed(2)).join(" ")}`);
for (const prefix of usedPrefixes) await deleteKeysWithPrefix(redisUrl, prefix);
process.exit(0);
