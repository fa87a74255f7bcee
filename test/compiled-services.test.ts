// What the images run: tsc's output under plain node. No TypeScript loader (tap's processinfo adds
// one to NODE_OPTIONS, so the children start through `env -u NODE_OPTIONS`), no --conditions: every
// workspace import resolves to its compiled dist, and a .ts file could not even be loaded.
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import t, { type Test } from "tap";
import { serviceProcessEnv } from "@temetro/test-support/auth-process";

const root = fileURLToPath(new URL("..", import.meta.url));

const serviceEnv = serviceProcessEnv(`test-compiled-${process.pid}`);

function runCompiled(script: string) {
  return spawn("env", ["-u", "NODE_OPTIONS", "node", script], { cwd: root, env: serviceEnv, stdio: ["ignore", "pipe", "pipe"] });
}

/** Starts a compiled entry point and answers the address its first listener announced. */
async function startCompiled(t: Test, script: string): Promise<string> {
  const child = runCompiled(script);
  const exited = once(child, "exit");
  t.teardown(async () => {
    if (child.exitCode !== null) return;
    child.kill("SIGTERM");
    await exited;
  });
  let output = "";
  return new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const listening = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (listening) resolve(listening[1]!);
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    exited.then(([code]) => reject(new Error(`${script} exited with ${code} before listening:\n${output}`)));
  });
}

t.before(() => {
  const build = spawnSync("npx", ["tsc", "-b", "services/auth", "services/mailer"], { cwd: root, encoding: "utf8" });
  if (build.status !== 0) throw new Error(`tsc -b failed:\n${build.stdout}${build.stderr}`);
  // As the migrate Job runs it.
  const migration = spawnSync("env", ["-u", "NODE_OPTIONS", "node", "services/auth/dist/db/migrate-cli.js"], {
    cwd: root,
    env: serviceEnv,
    encoding: "utf8",
  });
  if (migration.status !== 0) throw new Error(`the compiled migration failed:\n${migration.stdout}${migration.stderr}`);
});

for (const [service, script] of [
  ["the auth service", "services/auth/dist/server.js"],
  ["the mailer", "services/mailer/dist/main.js"],
] as const) {
  t.test(`${service} runs compiled (${script}) under plain node and reports ready`, async (t) => {
    const address = await startCompiled(t, script);
    const ready = await fetch(`${address}/health/ready`);
    t.equal(ready.status, 200, await ready.text());
  });
}
