import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t, { type Test } from "tap";
import { loadDotEnv, repositoryDotEnv } from "@temetro/shared";
import { loadConfig } from "@temetro/auth/config";
import { repositoryRoot } from "@temetro/test-support/auth-app";
import { startServer } from "@temetro/test-support/auth-process";

// What a newcomer meets on the first `npm start`: readable logs, settings in a `.env`, links that
// follow PORT, and a taken port named by its variable.

async function takenPort(t: Test): Promise<number> {
  const blocker = createServer();
  blocker.listen(0, "127.0.0.1");
  await once(blocker, "listening");
  t.teardown(() => blocker.close());
  return (blocker.address() as { port: number }).port;
}

t.test("LOG_FORMAT=pretty: the service logs readable lines with level names, not JSON", async (t) => {
  const server = startServer({ LOG_FORMAT: "pretty" });
  t.teardown(() => server.child.kill("SIGKILL"));
  await server.baseUrl;
  const lines = server.output().split("\n").filter((line) => line.trim() !== "");
  t.ok(lines.some((line) => /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO \(auth\): .*Server listening at http:\/\/127\.0\.0\.1:\d+/.test(line)), "a level name, the time, the message");
  t.notOk(lines.some((line) => line.startsWith("{")), "no JSON line");
});

t.test("without a terminal (or with LOG_FORMAT=json) the log stays JSON, one object a line", async (t) => {
  const server = startServer({});
  t.teardown(() => server.child.kill("SIGKILL"));
  await server.baseUrl;
  const lines = server.output().split("\n").filter((line) => line.trim() !== "");
  t.ok(lines.length > 0);
  for (const line of lines) t.ok(typeof JSON.parse(line).level === "number", "a JSON line");
});

t.test("a LOG_FORMAT other than json or pretty stops the start, naming it", async (t) => {
  const server = startServer({ LOG_FORMAT: "fancy" });
  const [code] = await server.exited;
  t.equal(code, 1);
  t.match(server.output(), "LOG_FORMAT: must be json or pretty");
});

t.test("a port already in use names the variable to change: PORT, then INTERNAL_PORT", async (t) => {
  for (const variable of ["PORT", "INTERNAL_PORT"]) {
    const port = await takenPort(t);
    const server = startServer({ [variable]: String(port) });
    const [code] = await server.exited;
    t.equal(code, 1, `${variable} taken: the start fails`);
    t.match(server.output(), `port ${port} is already in use: stop what runs there or set ${variable} to a free port`);
  }
});

t.test("in development BETTER_AUTH_URL follows PORT unless set, and a local one on another port is warned about", async (t) => {
  t.equal(loadConfig({ PORT: "4100" }).betterAuthUrl, "http://localhost:4100");
  t.ok(loadConfig({ PORT: "4100" }).trustedOrigins.includes("http://localhost:4100"));
  t.equal(loadConfig({}).betterAuthUrl, "http://localhost:4000");
  t.equal(loadConfig({ PORT: "0" }).betterAuthUrl, "http://localhost:4000", "a port picked at listen time keeps the default");

  const warnings: string[] = [];
  loadConfig({ PORT: "4100", BETTER_AUTH_URL: "http://localhost:4000" }, { warn: (message) => warnings.push(message) });
  t.match(warnings, [/BETTER_AUTH_URL \(http:\/\/localhost:4000\) names port 4000 but the service listens on PORT 4100/]);
  warnings.length = 0;
  loadConfig({ PORT: "4100", BETTER_AUTH_URL: "http://localhost:4100" }, { warn: (message) => warnings.push(message) });
  loadConfig({ PORT: "4100", BETTER_AUTH_URL: "https://auth.clinic.example" }, { warn: (message) => warnings.push(message) });
  t.same(warnings, [], "no warning when they agree, or behind a public origin");
});

t.test("a .env at the repository root is read in development (variables already set win), never in production", async (t) => {
  t.equal(repositoryDotEnv, join(repositoryRoot, ".env"), "the file beside the root package.json");
  const dir = mkdtempSync(join(tmpdir(), "temetro-dotenv-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, ".env");
  writeFileSync(file, "# a newcomer's settings\nPORT=4200\nSIGN_UP=invite-only\nLOG_LEVEL=\"debug\"\n");

  const env: NodeJS.ProcessEnv = { LOG_LEVEL: "warn" };
  t.equal(loadDotEnv(env, file), file);
  t.same(env, { LOG_LEVEL: "warn", PORT: "4200", SIGN_UP: "invite-only" });
  const config = loadConfig(env);
  t.equal(config.port, 4200);
  t.equal(config.betterAuthUrl, "http://localhost:4200");
  t.equal(config.signUp, "invite-only");

  const production: NodeJS.ProcessEnv = { NODE_ENV: "production" };
  t.equal(loadDotEnv(production, file), undefined);
  t.same(production, { NODE_ENV: "production" }, "production reads nothing from it");
  t.equal(loadDotEnv({}, join(dir, "missing.env")), undefined, "no file, nothing read");
});
