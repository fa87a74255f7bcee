// The pieces every service's configuration is built from: defaults, the variable named with the
// reason, every problem at once, and a refused configuration stopping the process with its message.
import { spawnSync } from "node:child_process";
import t from "tap";
import * as z from "zod";
import { boundedInt, ConfigError, hostSettings, loadOrExit, portNumber, readEnvironment, redisSettings, sharedSettings } from "../src/config/index.js";

t.test("defaults reach this machine's PostgreSQL and Redis by IP, on every address, in development", async (t) => {
  t.same(readEnvironment({}, sharedSettings), {
    nodeEnv: "development",
    logLevel: "info",
    // The test's stdout is a pipe, not a terminal: JSON.
    logFormat: "json",
    host: "0.0.0.0",
    databaseUrl: "postgres://postgres@127.0.0.1:5432/temetro_auth",
    redis: { kind: "single", url: "redis://127.0.0.1:6379" },
    redisPrefix: "temetro",
    frontendUrl: "http://localhost:3000",
  });
});

t.test("LOG_FORMAT picks json or pretty whatever stdout is, and refuses anything else by name", async (t) => {
  t.equal(readEnvironment({ LOG_FORMAT: "pretty" }, sharedSettings).logFormat, "pretty");
  t.equal(readEnvironment({ LOG_FORMAT: "json" }, sharedSettings).logFormat, "json");
  t.throws(() => readEnvironment({ LOG_FORMAT: "text" }, sharedSettings), { message: /LOG_FORMAT: must be json or pretty/ });
});

t.test("every bad variable of every piece is named with the reason, in one error", async (t) => {
  const error = t.throws(() =>
    readEnvironment(
      { NODE_ENV: "staging", LOG_LEVEL: "loud", DATABASE_URL: "mysql://localhost/x", REDIS_PREFIX: "a:b", FRONTEND_URL: "ftp://x" },
      sharedSettings,
    ),
  ) as ConfigError;
  t.type(error, ConfigError);
  const text = error.message;
  for (const [name, reason] of <[string, string][]>[
    ["NODE_ENV", "expected one of"],
    ["LOG_LEVEL", "expected one of"],
    ["DATABASE_URL", "postgres://"],
    ["REDIS_PREFIX", "letters, digits"],
    ["FRONTEND_URL", "http\\(s\\) URL"],
  ]) {
    t.match(text, new RegExp(`  - ${name}: [^\\n]*${reason}`), name);
  }
});

t.test("empty variables count as unset; variables no piece reads are ignored", async (t) => {
  const redis = readEnvironment({ REDIS_URL: "", REDIS_PREFIX: "", RATE_LIMIT_SIGN_IN: "lots" }, [redisSettings]);
  t.same(redis, { redis: { kind: "single", url: "redis://127.0.0.1:6379" }, redisPrefix: "temetro" });
});

t.test("ranges and ports say what they accept", async (t) => {
  const limits = z.object({ A: boundedInt(1, 100), B: boundedInt(1000, 60_000, "number of milliseconds"), P: portNumber(), Q: portNumber(1) });
  const error = t.throws(() => readEnvironment({ A: "1.5", B: "10", P: "70000", Q: "0" }, [limits])) as ConfigError;
  t.same(error.problems, [
    "A: must be a whole number from 1 to 100",
    "B: must be a number of milliseconds from 1000 to 60000",
    "P: must be a port number (0-65535)",
    "Q: must be a port number (1-65535)",
  ]);
  t.same(readEnvironment({ A: "7", B: "1000", P: "0", Q: "25" }, [limits]), { A: 7, B: 1000, P: 0, Q: 25 });
});

t.test("loading a good configuration gives it back; an error that is not about configuration is not hidden", async (t) => {
  t.same(loadOrExit(() => readEnvironment({ HOST: "127.0.0.1" }, [hostSettings])), { host: "127.0.0.1" });
  t.throws(() => loadOrExit(() => JSON.parse("{")), SyntaxError);
});

t.test("a refused configuration stops the process with exit code 1 and the reasons, no stack trace", async (t) => {
  const script = `
    import { loadOrExit, readEnvironment, redisSettings } from "./shared/src/config/index.ts";
    loadOrExit(() => readEnvironment({ REDIS_URL: "http://redis" }, [redisSettings]));
    console.log("started anyway");
  `;
  const run = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    cwd: new URL("../..", import.meta.url),
    env: { PATH: process.env.PATH, _TAPJS_PROCESSINFO_COVERAGE_: "0" },
    encoding: "utf8",
  });
  t.equal(run.status, 1);
  t.equal(run.stdout, "");
  t.match(run.stderr, /Invalid configuration:\n  - REDIS_URL: must be a redis:\/\/ or rediss:\/\/ URL/);
  t.notMatch(run.stderr, /\n\s+at /);
});
