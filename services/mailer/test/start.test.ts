// The root `npm start`: the auth service and the mailer side by side; SIGTERM stops both.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import t from "tap";
import { testDatabaseUrl, testRedisUrl } from "../../auth/test/fixtures/app.js";

// Child processes run their TypeScript through tsx, the tests through tap's own loader: V8 coverage
// of one file transpiled two ways cannot be merged (tap reported garbled figures), so children
// report none.
const NO_CHILD_COVERAGE = { _TAPJS_PROCESSINFO_COVERAGE_: "0" };

const root = fileURLToPath(new URL("../../..", import.meta.url));

t.test("npm start runs the auth service and the mailer; SIGTERM stops both cleanly", async (t) => {
  const child = spawn("npm", ["start"], {
    cwd: root,
    env: {
      ...NO_CHILD_COVERAGE,
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      HOST: "127.0.0.1",
      PORT: "0",
      INTERNAL_PORT: "0",
      MAILER_HTTP_PORT: "0",
      DATABASE_URL: testDatabaseUrl,
      REDIS_URL: testRedisUrl,
      REDIS_PREFIX: `test-start-${process.pid}`,
      BETTER_AUTH_SECRET: "test-secret-that-is-long-enough-for-better-auth",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const seen = new Promise<void>((resolve) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (/\[auth\].*Server listening at/.test(output) && /\[mailer\].*mailer started/.test(output)) resolve();
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
  });
  const exited = once(child, "exit");
  t.teardown(() => {
    if (child.exitCode === null) child.kill("SIGKILL");
  });
  await Promise.race([seen, exited.then(() => Promise.reject(new Error(`npm start exited early:\n${output}`)))]);

  child.kill("SIGTERM");
  const [code] = await exited;
  t.equal(code, 0, "npm start exits 0");
  t.match(output, /\[auth\].*"msg":"closing"/);
  t.match(output, /\[mailer\].*mailer stopped/);
  t.match(output, /services\/auth\/src\/server\.ts exited with code 0/);
  t.match(output, /services\/mailer\/src\/main\.ts exited with code 0/);
});

/** The mailer alone, as its container starts it, with the auth service's variables set badly. */
function startMailerAlone(env: Record<string, string>) {
  const child = spawn(process.execPath, ["--import", "tsx", "services/mailer/src/main.ts"], {
    cwd: root,
    env: {
      ...NO_CHILD_COVERAGE,
      PATH: process.env.PATH,
      HOST: "127.0.0.1",
      MAILER_HTTP_PORT: "0",
      DATABASE_URL: testDatabaseUrl,
      REDIS_URL: testRedisUrl,
      REDIS_PREFIX: `test-start-mailer-${process.pid}`,
      RATE_LIMIT_SIGN_IN: "lots",
      BETTER_AUTH_SECRET: "short",
      TRUST_PROXY: "true",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  return { child, output: () => output };
}

t.test("the mailer starts whatever the auth service's variables say, and refuses its own bad values by name", async (t) => {
  const mailer = startMailerAlone({});
  t.teardown(() => {
    if (mailer.child.exitCode === null) mailer.child.kill("SIGKILL");
  });
  const exited = once(mailer.child, "exit");
  const started = new Promise<void>((resolve) => mailer.child.stdout.on("data", () => /mailer started/.test(mailer.output()) && resolve()));
  await Promise.race([started, exited.then(() => Promise.reject(new Error(`the mailer exited:\n${mailer.output()}`)))]);
  mailer.child.kill("SIGTERM");
  t.same(await exited, [0, null], "SIGTERM stops it cleanly");

  const refused = startMailerAlone({ MAILER_CONCURRENCY: "0" });
  const [code] = await once(refused.child, "exit");
  t.equal(code, 1);
  t.match(refused.output(), /MAILER_CONCURRENCY: must be a whole number from 1 to 100/);
  t.notMatch(refused.output(), /RATE_LIMIT_SIGN_IN|BETTER_AUTH_SECRET|TRUST_PROXY/);
});
