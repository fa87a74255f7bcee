// `npm run bench`: throughput and latency of the hot paths, each against a ceiling and a baseline.
// Servers and the load generator (autocannon) run as separate processes on this machine; every
// figure is the median of BENCH_RUNS runs. Ratios compare medians from the same run of this script.
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import pg from "pg";

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
  errors: number;
  non2xx: number;
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
  const child = spawn(process.execPath, ["--import", "tsx", script], {
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

function load(url: string, options: { headers?: Record<string, string>; rate?: number; method?: string; body?: string } = {}): Promise<LoadResult> {
  const args = [autocannon, "-j", "-c", String(connections), "-d", String(duration)];
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
        errors: result.errors + result.timeouts,
        non2xx: result.non2xx,
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
const ours = await start(here("../src/server.ts"), {
  INTERNAL_PORT: String(ourInternalPort),
  DATABASE_URL: await freshDatabase("temetro_bench_auth"),
  REDIS_PREFIX: `bench-${randomUUID().slice(0, 8)}`,
  BETTER_AUTH_SECRET: "bench-secret-bench-secret-bench-secret",
  LOG_LEVEL: "info",
  // One load generator is one client address: lift the per-address ceiling so requests are
  // served, not refused. The limiter still runs (a Redis INCR per request), as in production.
  RATE_LIMIT_API: "1000000",
});

const stockCookie = await signUpAndClinic(stock, false, "http://127.0.0.1");
const ourCookie = await signUpAndClinic(ours, true);

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
console.log(`\nNoise: this machine has ${(await import("node:os")).cpus().length} cores shared by server and load generator; compare ratios, not absolute figures.`);
process.exit(0);
