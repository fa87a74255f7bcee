// `npm run scale:costs`: what one request of each kind costs
// its dependencies, for the README's capacity section. One auth replica on a Redis of its own (so
// every command counted is the replica's) and a database of its own; each kind of request is sent
// SCALE_COST_REQUESTS (40) times, one at a time, and the deltas are divided by that number:
// Redis commands (INFO commandstats), PostgreSQL transactions (pg_stat_database) and the replica's
// CPU time (/proc/<pid>/stat). Counts are exact; CPU times are this machine's and vary with it.
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import pg from "pg";
import { SmtpSink } from "@temetro/test-support/smtp-sink";
import { OwnRedis } from "../resilience/fixtures/own-redis.js";
import { MailerProcess, Replica } from "../resilience/fixtures/replica.js";
import { randomAddress, ScaleClient } from "./client.js";
import { ScriptResources } from "./script-resources.js";

const requests = Number(process.env.SCALE_COST_REQUESTS ?? 40);
const ORIGIN = "http://auth.scale.test";
const PASSWORD = "scale-run-Password-7731";
const ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres";

const resources = new ScriptResources();
const { url: databaseUrl, name: database } = await resources.database("costs");
// pg_stat_database is read from another database: a reading adds no transaction to the counted one.
const admin = new pg.Client({ connectionString: ADMIN_URL });
await admin.connect();
const redis = await OwnRedis.start(resources.owner);
const sink = await SmtpSink.start();
const env = {
  DATABASE_URL: databaseUrl,
  REDIS_URL: redis.url,
  REDIS_PREFIX: "costs",
  BETTER_AUTH_SECRET: `costs-secret-${randomUUID()}`,
  BETTER_AUTH_URL: ORIGIN,
  FRONTEND_URL: "http://app.scale.test",
  TRUST_PROXY: "loopback",
  INVITATIONS_PER_HOUR: "100000",
  LOG_LEVEL: "warn",
};
const replica = await Replica.create("A", env);
const mailer = await MailerProcess.create({ DATABASE_URL: databaseUrl, REDIS_URL: redis.url, REDIS_PREFIX: "costs", SMTP_URL: sink.url, LOG_LEVEL: "warn" });

try {
  await replica.start();
  await mailer.start();
  const client = new ScaleClient(ORIGIN, "");
  const counters = new Redis(redis.url);

  const redisCommands = async () => {
    const info = await counters.info("commandstats");
    let calls = 0;
    for (const [, command, count] of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) if (command !== "info") calls += Number(count);
    return calls;
  };
  const transactions = async () => {
    await sleep(1200); // PostgreSQL 15 publishes a backend's counts within a second of its last transaction
    // Counted on the admin connection, in another database: the reading itself adds nothing here.
    const { rows } = await admin.query<{ n: string }>(`SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = $1`, [database]);
    return Number(rows[0]!.n);
  };
  const cpuMs = () => {
    const fields = readFileSync(`/proc/${replica.pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, in clock ticks of 10 ms
  };

  // Accounts, sessions and a clinic to work with.
  const accounts: string[] = [];
  const sessions: { cookie: string; token: string }[] = [];
  for (let index = 0; index < requests; index++) {
    const email = `costs-${index}-${randomUUID().slice(0, 6)}@example.com`;
    await client.send(replica, "seed", "/api/auth/sign-up/email", { body: { name: "Costs", email, password: PASSWORD } });
    accounts.push(email);
  }
  // The clinic's owner, whose address is verified (in the session that signed up) so that it may invite.
  const ownerEmail = `owner-${randomUUID().slice(0, 6)}@example.com`;
  const signedUp = await client.send(replica, "seed", "/api/auth/sign-up/email", { body: { name: "Owner", email: ownerEmail, password: PASSWORD } });
  let link: RegExpMatchArray | null | undefined;
  while (!(link = sink.received.find((email) => email.to === ownerEmail)?.text.match(/\/api\/auth\/verify-email\?token=\S+/))) await sleep(50);
  const verified = await client.send(replica, "seed", link[0], { cookie: signedUp.cookie });
  const owner = { cookie: verified.cookie || signedUp.cookie };
  await client.send(replica, "seed", "/api/auth/organization/create", { body: { name: "Costs Clinic", slug: `costs-${randomUUID().slice(0, 6)}` }, cookie: owner.cookie });
  await sleep(3000); // the welcome and verification emails go out before anything is counted

  const kinds: [string, (index: number) => Promise<unknown>][] = [
    ["sign-up", (index) => client.send(replica, "sign-up", "/api/auth/sign-up/email", { body: { name: "Costs", email: `new-${index}-${randomUUID().slice(0, 6)}@example.com`, password: PASSWORD } })],
    [
      "sign-in",
      async (index) => {
        const reply = await client.send(replica, "sign-in", "/api/auth/sign-in/email", { body: { email: accounts[index]!, password: PASSWORD } });
        sessions.push({ cookie: reply.cookie, token: (reply.json as { token: string }).token });
      },
    ],
    ["get-session (first read on this replica)", (index) => client.send(replica, "get-session", "/api/auth/get-session", { cookie: sessions[index]!.cookie })],
    ["get-session (again, from the cache)", (index) => client.send(replica, "get-session", "/api/auth/get-session", { cookie: sessions[index]!.cookie })],
    ["introspection", (index) => client.send(replica, "introspect", "/internal/v1/introspect", { body: { token: sessions[index]!.token }, internal: true })],
    ["invitation", () => client.send(replica, "invitation", "/api/auth/organization/invite-member", { body: { email: `invitee-${randomUUID()}@example.com`, role: "doctor" }, cookie: owner.cookie })],
    ["reset request", (index) => client.send(replica, "reset", "/api/auth/request-password-reset", { body: { email: accounts[index]! } })],
    ["wrong password", (index) => client.send(replica, "sign-in", "/api/auth/sign-in/email", { body: { email: accounts[index]!, password: "not-the-password-at-all" }, address: randomAddress() })],
  ];

  // What the deployment does on its own, idle (the outbox relay's polls, the mailer's blocking
  // reads, this script's own stats query): subtracted from each kind's window.
  const reading = async () => ({ at: Date.now(), redis: await redisCommands(), xact: await transactions(), cpu: cpuMs() });
  const idleStart = await reading();
  await sleep(10_000);
  const idleEnd = await reading();
  const idle = {
    redis: (idleEnd.redis - idleStart.redis) / (idleEnd.at - idleStart.at),
    xact: (idleEnd.xact - idleStart.xact) / (idleEnd.at - idleStart.at),
    cpu: (idleEnd.cpu - idleStart.cpu) / (idleEnd.at - idleStart.at),
  };

  console.log(`| request | Redis commands | PostgreSQL transactions | replica CPU ms |`);
  console.log(`|---|---:|---:|---:|`);
  for (const [kind, send] of kinds) {
    const before = await reading();
    for (let index = 0; index < requests; index++) await send(index);
    await sleep(2000); // the emails it queued are delivered (and confirmed) within the window
    const after = await reading();
    const failed = client.answers.slice(-requests).filter((answer) => answer.status >= 400 && kind !== "wrong password");
    if (failed.length > 0) throw new Error(`${kind}: ${failed.length} answers of ${failed[0]!.status}`);
    const elapsed = after.at - before.at;
    const per = (key: "redis" | "xact" | "cpu") => Math.max(0, (after[key] - before[key] - idle[key] * elapsed) / requests).toFixed(1);
    console.log(`| ${kind} | ${per("redis")} | ${per("xact")} | ${per("cpu")} |`);
  }
  console.log(`idle, per second: ${(idle.redis * 1000).toFixed(1)} Redis commands, ${(idle.xact * 1000).toFixed(1)} PostgreSQL transactions, ${(idle.cpu * 1000).toFixed(1)} ms of the replica's CPU (subtracted above)`);
  console.log(`\n(${requests} of each, one at a time; the counts include the outbox relay's and the mailer's work for the emails a request queues)`);
  counters.disconnect();
} finally {
  await Promise.all([replica.stop("SIGTERM"), mailer.stop("SIGTERM")]);
  await sink.stop();
  await admin.end();
  await resources.release();
}
