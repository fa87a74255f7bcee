// Secrets as mounted files (`<NAME>_FILE`), the way the Kubernetes manifests hand them over: both
// services start and use them, and a refusal names the variable and the file, never the value.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t, { type Test } from "tap";
import { newRedisPrefix, repositoryRoot, TEST_SECRET, testDatabaseUrl, testRedisUrl } from "@temetro/test-support/auth-app";
import { waitUntil } from "@temetro/test-support/polling";
import { SmtpSink } from "@temetro/test-support/smtp-sink";
import { typeScriptEntry } from "@temetro/test-support/processes";
import { uniqueEmail, PASSWORD } from "@temetro/test-support/auth-requests";
import { baseEnv, startAuth, startMailer } from "./fixtures/services.js";

const internalToken = "internal-token-from-a-file-0123456789abcdef";
const metricsToken = "metrics-token-from-a-file-0123456789abcdef";

/** A directory laid out as a mounted Secret: one file per key, each ending in a newline (--from-file). */
function mountedSecret(t: Test, values: Record<string, string>): Record<string, string> {
  const directory = mkdtempSync(join(tmpdir(), "temetro-secret-"));
  t.teardown(() => rmSync(directory, { recursive: true, force: true }));
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(values)) {
    writeFileSync(join(directory, name), `${value}\n`, { mode: 0o400 });
    env[`${name}_FILE`] = join(directory, name);
  }
  return env;
}

/** The environment without the secrets the base gives as plain variables. */
function withoutPlainSecrets(env: Record<string, string>): Record<string, string> {
  const { BETTER_AUTH_SECRET, DATABASE_URL, REDIS_URL, ...rest } = env;
  return rest;
}

t.test("both services start with every secret from files, and use them: the tokens guard, SMTP delivers", async (t) => {
  const smtp = await SmtpSink.start();
  t.teardown(() => smtp.stop());
  const prefix = newRedisPrefix();
  const files = mountedSecret(t, {
    BETTER_AUTH_SECRET: TEST_SECRET,
    DATABASE_URL: testDatabaseUrl,
    REDIS_URL: testRedisUrl,
    INTERNAL_TOKEN: internalToken,
    METRICS_TOKEN: metricsToken,
    SMTP_URL: smtp.url,
  });
  const env = { ...withoutPlainSecrets(baseEnv(prefix)), ...files };
  const [auth, mailer] = await Promise.all([startAuth(t, env), startMailer(t, env)]);

  t.equal((await fetch(`${auth.publicUrl}/health/ready`)).status, 200, "auth: ready (PostgreSQL and Redis from the files)");
  t.equal((await fetch(`${mailer.url}/health/ready`)).status, 200, "mailer: ready");
  for (const [service, url] of [["auth", auth.internalUrl], ["mailer", mailer.url]] as const) {
    t.equal((await fetch(`${url}/metrics`)).status, 401, `${service}: /metrics wants the token`);
    const scrape = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${metricsToken}` } });
    t.equal(scrape.status, 200, `${service}: METRICS_TOKEN read from its file, without the file's newline`);
  }
  const introspect = (token?: string) =>
    fetch(`${auth.internalUrl}/internal/v1/introspect`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ token: "not-a-session" }),
    });
  t.equal((await introspect()).status, 401, "introspection wants INTERNAL_TOKEN");
  t.not((await introspect(internalToken)).status, 401, "INTERNAL_TOKEN read from its file");

  const email = uniqueEmail("files");
  const signUp = await fetch(`${auth.publicUrl}/api/auth/sign-up/email`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: "Dr. Files", email, password: PASSWORD }),
  });
  t.equal(signUp.status, 200, "sign-up signs with the secret from its file");
  await waitUntil(() => smtp.received.some((received) => received.to === email), "the sign-up's email through SMTP_URL from its file");
  t.pass("the mailer delivered through the SMTP server its file named");
  for (const secret of [internalToken, metricsToken, TEST_SECRET]) {
    t.notMatch(auth.output() + mailer.output(), secret, "no secret in either log");
  }
});

/** A start that is refused: its exit code and what it printed. */
function refusedStart(entry: string, env: Record<string, string>) {
  const run = spawnSync(process.execPath, typeScriptEntry(`${repositoryRoot}/${entry}`), {
    env: { ...env, _TAPJS_PROCESSINFO_COVERAGE_: "0" },
    encoding: "utf8",
  });
  return { code: run.status, output: `${run.stdout}${run.stderr}` };
}

t.test("a secret file that cannot be read, or a secret given twice, stops the start naming the variable and the path", async (t) => {
  const env = withoutPlainSecrets(baseEnv(newRedisPrefix()));
  const missing = join(tmpdir(), `temetro-no-such-secret-${process.pid}`);
  const auth = refusedStart("services/auth/src/server.ts", { ...env, NODE_ENV: "production", BETTER_AUTH_URL: "https://auth.example", DATABASE_URL_FILE: missing, ...mountedSecret(t, { BETTER_AUTH_SECRET: TEST_SECRET, INTERNAL_TOKEN: internalToken }) });
  t.equal(auth.code, 1);
  t.match(auth.output, `DATABASE_URL_FILE: cannot read ${missing} (ENOENT)`);
  t.notMatch(auth.output, /at .*\.ts:\d+/, "a message, not a stack trace");

  const mailer = refusedStart("services/mailer/src/main.ts", { ...env, SMTP_URL: "smtp://user:hunter2-plain@127.0.0.1:1", ...mountedSecret(t, { SMTP_URL: "smtp://user:hunter2-file@127.0.0.1:1" }) });
  t.equal(mailer.code, 1);
  t.match(mailer.output, "SMTP_URL_FILE: set either SMTP_URL or SMTP_URL_FILE, not both");
  t.notMatch(mailer.output, "hunter2", "neither value is printed");
});

t.test("a bad secret read from a file is refused naming its file, without the value", async (t) => {
  const env = withoutPlainSecrets(baseEnv(newRedisPrefix()));
  const short = "too-short-but-still-secret";
  const files = mountedSecret(t, { BETTER_AUTH_SECRET: short, INTERNAL_TOKEN: internalToken });
  const auth = refusedStart("services/auth/src/server.ts", { ...env, ...files });
  t.equal(auth.code, 1);
  t.match(auth.output, `BETTER_AUTH_SECRET (read from ${files.BETTER_AUTH_SECRET_FILE}): must be at least 32 characters`);
  t.notMatch(auth.output, short);
});
