// `npm run bench`: throughput and latency of the hot paths, each against a ceiling and a baseline.
// Servers and the load generator (autocannon) run as separate processes on this machine; every
// figure is the median of BENCH_RUNS runs. Ratios compare medians from the same run of this script.
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { typeScriptEntry } from "@temetro/test-support/processes";
import { deleteKeysWithPrefix } from "@temetro/test-support/redis-keys";

const runs = Number(process.env.BENCH_RUNS ?? 3);
const duration = Number(process.env.BENCH_DURATION ?? 6);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const autocannon = createRequire(import.meta.url).resolve("autocannon/autocannon.js");
const adminUrl = "postgres://postgres@127.0.0.1:5432/postgres";

interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  max: number;
  errors: number;
  non2xx: number;
  /** Answers by status code over the whole run. */
  statuses: Record<string, number>;
  seconds: number;
}

const children: ChildProcess[] = [];
process.on("exit", () => children.forEach((child) => child.kill("SIGKILL")));

async function freshDatabase(name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  return `postgres://postgres@127.0.0.1:5432/${name}`;
}

function start(script: string, env: Record<string, string>): Promise<string> {
  const child = spawn(process.execPath, typeScriptEntry(script), {
    env: { ...process.env, PORT: "0", HOST: "127.0.0.1", ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let seen = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      seen += chunk.toString();
      const match = /(?:listening|Server listening at) (http:\/\/127\.0\.0\.1:\d+)/.exec(seen);
      if (match) {
        child.stdout!.removeAllListeners("data");
        child.stdout!.resume();
        resolve(match[1]!);
      }
    });
    child.once("exit", (code) => reject(new Error(`${script} exited with ${code}: ${seen.slice(-2000)}`)));
  });
}

interface LoadOptions {
  headers?: Record<string, string>;
  rate?: number;
  method?: string;
  body?: string;
  /** Replace `[<id>]` in the body with a fresh id per request (unique sign-up addresses). */
  uniqueIds?: boolean;
  connections?: number;
}

function load(url: string, options: LoadOptions = {}): Promise<LoadResult> {
  const args = [autocannon, "-j", "-c", String(options.connections ?? connections), "-d", String(duration)];
  if (options.uniqueIds) args.push("-I");
  for (const [key, value] of Object.entries(options.headers ?? {})) args.push("-H", `${key}=${value}`);
  if (options.rate) args.push("-R", String(options.rate));
  if (options.method) args.push("-m", options.method);
  if (options.body) args.push("-b", options.body);
  args.push(url);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "ignore"] });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.once("exit", (code) => {
      if (code !== 0) return reject(new Error(`autocannon exited with ${code}`));
      const result = JSON.parse(out);
      resolve({
        rps: result.requests.average,
        p50: result.latency.p50,
        p99: result.latency.p99,
        max: result.latency.max,
        errors: result.errors + result.timeouts,
        non2xx: result.non2xx,
        statuses: Object.fromEntries(
          Object.entries(result.statusCodeStats as Record<string, { count: number }>).map(([code, stat]) => [code, stat.count]),
        ),
        seconds: result.duration,
      });
    });
  });
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

async function measure(name: string, url: string, options: Parameters<typeof load>[1] = {}) {
  await load(url, { ...options }); // warm-up: JIT, pools, caches
  const results: LoadResult[] = [];
  for (let run = 0; run < runs; run += 1) results.push(await load(url, options));
  const failed = results.reduce((sum, result) => sum + result.errors + result.non2xx, 0);
  if (failed > 0) throw new Error(`${name}: ${failed} failed requests; the figures would be meaningless`);
  const summary = {
    name,
    rps: median(results.map((result) => result.rps)),
    p50: median(results.map((result) => result.p50)),
    p99: median(results.map((result) => result.p99)),
    spread: `${Math.round(Math.min(...results.map((r) => r.rps)))}-${Math.round(Math.max(...results.map((r) => r.rps)))}`,
  };
  console.log(`  ${name}: ${Math.round(summary.rps)} req/s (runs ${summary.spread}), p50 ${summary.p50} ms, p99 ${summary.p99} ms`);
  return summary;
}

/** Hashes per second of the service's argon2id in a process of its own (targets/raw-hash.ts). */
function rawHashRate(): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, typeScriptEntry(here("./targets/raw-hash.ts")), {
      env: { ...process.env, BENCH_DURATION: String(duration) },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.once("exit", (code) => (code === 0 ? resolve(JSON.parse(out).rate) : reject(new Error(`raw-hash exited with ${code}`))));
  });
}

/**
 * Clients that honour Retry-After (targets/polite-clients.ts), as temetro's web app does: accepted
 * and shed answers per second and answer latency, medians of the runs.
 */
async function measurePolite(name: string, url: string, body: string, clients: number) {
  const once = () =>
    new Promise<{ acceptedPerSecond: number; shedPerSecond: number; other: number; errors: number; shedWithoutRetryAfter: number; p50: number; p99: number; max: number }>(
      (resolve, reject) => {
        const child = spawn(process.execPath, typeScriptEntry(here("./targets/polite-clients.ts")), {
          env: { ...process.env, BENCH_URL: url, BENCH_BODY: body, BENCH_CLIENTS: String(clients), BENCH_DURATION: String(duration) },
          stdio: ["ignore", "pipe", "inherit"],
        });
        let out = "";
        child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
        child.once("exit", (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`polite-clients exited with ${code}`))));
      },
    );
  await once(); // warm-up
  const results = [];
  for (let run = 0; run < runs; run += 1) results.push(await once());
  const accepted = median(results.map((result) => result.acceptedPerSecond));
  const shed = median(results.map((result) => result.shedPerSecond));
  const otherFailures = results.reduce((sum, result) => sum + result.other + result.errors + result.shedWithoutRetryAfter, 0);
  const max = Math.max(...results.map((result) => result.max));
  console.log(
    `  ${name}: ${Math.round(accepted)} accepted/s (runs ${results.map((r) => Math.round(r.acceptedPerSecond)).join(", ")}), ` +
      `${Math.round(shed)} shed/s, p50 ${median(results.map((r) => r.p50))} ms, p99 ${median(results.map((r) => r.p99))} ms, max ${max} ms, other failures ${otherFailures}`,
  );
  return { accepted, shed, otherFailures, max };
}

/**
 * Load that may be shed: accepted (2xx) and shed (503 with Retry-After) answers per second,
 * medians of the runs. Any other failure is counted and printed, never hidden.
 */
async function measureAccepted(name: string, url: string, options: LoadOptions) {
  await load(url, options); // warm-up
  const results: LoadResult[] = [];
  for (let run = 0; run < runs; run += 1) results.push(await load(url, options));
  const perSecond = (result: LoadResult, match: (code: number) => boolean) =>
    Object.entries(result.statuses).reduce((sum, [code, count]) => sum + (match(Number(code)) ? count : 0), 0) / result.seconds;
  const accepted = median(results.map((result) => perSecond(result, (code) => code >= 200 && code < 300)));
  const shed = median(results.map((result) => perSecond(result, (code) => code === 503)));
  const otherFailures = results.reduce(
    (sum, result) => sum + result.errors + Object.entries(result.statuses).reduce((n, [code, count]) => n + (code.startsWith("2") || code === "503" ? 0 : count), 0),
    0,
  );
  const max = Math.max(...results.map((result) => result.max));
  const spread = results.map((result) => Math.round(perSecond(result, (code) => code >= 200 && code < 300))).join(", ");
  console.log(
    `  ${name}: ${Math.round(accepted)} accepted/s (runs ${spread}), ${Math.round(shed)} shed/s, p50 ${median(results.map((r) => r.p50))} ms, ` +
      `p99 ${median(results.map((r) => r.p99))} ms, max ${max} ms, other failures ${otherFailures}`,
  );
  return { accepted, shed, otherFailures, max };
}

async function signUpAndClinic(base: string, withClinic: boolean, origin?: string): Promise<string> {
  const response = await fetch(`${base}/api/auth/sign-up/email`, {
    method: "POST",
    // Stock Better Auth refuses a fetch (Sec-Fetch-Mode: cors) without a trusted Origin.
    headers: { "content-type": "application/json", ...(origin ? { origin } : {}) },
    body: JSON.stringify({ name: "Bench User", email: `bench-${randomUUID()}@example.com`, password: "a-long-secure-password" }),
  });
  if (!response.ok) throw new Error(`sign-up failed: ${response.status} ${await response.text()}`);
  const cookie = response.headers.getSetCookie().map((line) => line.split(";")[0]).join("; ");
  if (withClinic) {
    const clinic = await fetch(`${base}/api/auth/organization/create`, {
      method: "POST",
      headers: { "content-type": "application/json", cookie },
      body: JSON.stringify({ name: "Bench Clinic", slug: `bench-${randomUUID().slice(0, 8)}` }),
    });
    if (!clinic.ok) throw new Error(`organization/create failed: ${clinic.status}`);
  }
  return cookie;
}

console.log(`temetro-auth benchmarks: ${runs} runs x ${duration} s, ${connections} connections, load generator in its own process`);

const hello = await start(here("./targets/hello.ts"), {});
const stock = await start(here("./targets/stock-better-auth.ts"), { DATABASE_URL: await freshDatabase("temetro_bench_stock") });
const ourInternalPort = Number(process.env.BENCH_INTERNAL_PORT ?? 4191);
const ourPrefix = `bench-${randomUUID().slice(0, 8)}`;
const ours = await start(here("../src/server.ts"), {
  INTERNAL_PORT: String(ourInternalPort),
  DATABASE_URL: await freshDatabase("temetro_bench_auth"),
  REDIS_PREFIX: ourPrefix,
  BETTER_AUTH_SECRET: "bench-secret-bench-secret-bench-secret",
  LOG_LEVEL: "info",
  // One load generator is one client address: lift the per-address ceiling so requests are
  // served, not refused. The limiter still runs (a Redis INCR per request), as in production.
  RATE_LIMIT_API: "1000000",
  RATE_LIMIT_SIGN_IN: "100000",
  RATE_LIMIT_SIGN_UP: "100000",
});

const stockCookie = await signUpAndClinic(stock, false, "http://127.0.0.1");
const ourCookie = await signUpAndClinic(ours, true);
const benchUser = { email: `bench-sign-in-${randomUUID()}@example.com`, password: "a-long-secure-password" };
const benchSignUp = await fetch(`${ours}/api/auth/sign-up/email`, {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ name: "Bench Sign-in", ...benchUser }),
});
if (!benchSignUp.ok) throw new Error(`sign-up of the sign-in user failed: ${benchSignUp.status}`);

console.log("\nSession checks (GET, valid session cookie):");
const ceiling = await measure("hello-world (Fastify, ceiling)", `${hello}/hello`);
const baseline = await measure("stock Better Auth get-session (baseline)", `${stock}/api/auth/get-session`, { headers: { cookie: stockCookie } });
const getSession = await measure("temetro-auth get-session", `${ours}/api/auth/get-session`, { headers: { cookie: ourCookie } });
const clinic = await measure("temetro-auth GET /api/clinic (guarded)", `${ours}/api/clinic`, { headers: { cookie: ourCookie } });
const introspectUrl = `http://127.0.0.1:${ourInternalPort}/internal/v1/introspect`;
const introspectRequest = {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ cookie: ourCookie }),
};
const introspection = await measure("temetro-auth POST /internal/v1/introspect", introspectUrl, introspectRequest);

const ratio = (a: number, b: number) => (a / b).toFixed(2);
console.log("\nRatios of medians:");
for (const row of [getSession, clinic, introspection]) {
  console.log(`  ${row.name}: ${ratio(row.rps, ceiling.rps)} x hello-world, ${ratio(row.rps, baseline.rps)} x stock baseline`);
}

// Latency where it matters: at half the peak rate, not at saturation.
const halfRate = Math.round(introspection.rps / 2);
const atHalf = await measure(`introspection at half its peak (${halfRate} req/s)`, introspectUrl, { ...introspectRequest, rate: halfRate });
console.log(`\nIntrospection p99 at half peak: ${atHalf.p99} ms (goal < 10 ms)`);
// BENCH_ONLY=sessions: the session checks alone (an A/B of the request path takes minutes, not a quarter hour).
if (process.env.BENCH_ONLY === "sessions") {
  await deleteKeysWithPrefix(process.env.REDIS_URL ?? "redis://127.0.0.1:6379", ourPrefix);
  process.exit(0);
}
// Password hashing is what runs out first. The raw argon2id rate (the service's own function and
// parameters, as many in flight as it allows, nothing else in the process) is the ceiling; the
// service should turn at least 80% of it into accepted sign-ins and sign-ups, and shed the rest
// at once (503 + Retry-After) instead of queueing.
console.log("\nPassword hashing (the service's argon2id, PASSWORD_HASH_CONCURRENCY 8):");
const rawRates: number[] = [];
for (let run = 0; run < runs; run += 1) rawRates.push(await rawHashRate());
const rawRate = median(rawRates);
console.log(`  raw argon2id, alone in a process: ${Math.round(rawRate)} hashes/s (runs ${rawRates.map(Math.round).join(", ")})`);

const signInBody = JSON.stringify({ email: benchUser.email, password: benchUser.password });
const signUpBody = JSON.stringify({ name: "Bench User", email: "bench-[<id>]@example.com", password: "a-long-secure-password" });
const json = { "content-type": "application/json" };
// Twice as many clients as hashing slots: the slots never wait for work, and some clients are shed.
const signIns = await measurePolite("sign-in/email, 16 clients", `${ours}/api/auth/sign-in/email`, signInBody, 16);
const signUps = await measurePolite("sign-up/email, 16 clients", `${ours}/api/auth/sign-up/email`, signUpBody, 16);
console.log(
  `  accepted sign-ins: ${ratio(signIns.accepted, rawRate)} x the raw hash rate; accepted sign-ups: ${ratio(signUps.accepted, rawRate)} x (goal >= 0.80)`,
);

console.log("\nShedding: a storm of 200 concurrent clients on one replica:");
const storm = await measurePolite("sign-in/email, 200 clients honouring Retry-After", `${ours}/api/auth/sign-in/email`, signInBody, 200);
const rude = await measureAccepted("sign-in/email, 200 connections retrying at once (autocannon)", `${ours}/api/auth/sign-in/email`, {
  method: "POST",
  headers: json,
  body: signInBody,
  connections: 200,
});
console.log(
  `  storm: ${ratio(storm.accepted, rawRate)} x the raw hash rate accepted with polite clients, ${ratio(rude.accepted, rawRate)} x with clients ` +
    `that ignore Retry-After; slowest answer ${Math.max(storm.max, rude.max)} ms; answers other than 2xx or 503 + Retry-After: ` +
    `${storm.otherFailures + rude.otherFailures} (goal: 0, every answer within 1000 ms)`,
);

console.log(`\nNoise: this machine has ${(await import("node:os")).cpus().length} cores shared by server and load generator; compare ratios, not absolute figures.`);
// The Redis keys this run left (its email queue): gone at the end.
await deleteKeysWithPrefix(process.env.REDIS_URL ?? "redis://127.0.0.1:6379", ourPrefix);
process.exit(0);
