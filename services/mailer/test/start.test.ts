// The root `npm start`: the auth service and the mailer side by side; SIGTERM stops both.
import { once } from "node:events";
import t from "tap";
import { repositoryRoot } from "@temetro/test-support/auth-app";
import { serviceProcessEnv } from "@temetro/test-support/auth-process";
import { spawnUncovered, startCollected, typeScriptEntry } from "@temetro/test-support/processes";

t.test("npm start runs the auth service and the mailer; SIGTERM stops both cleanly", async (t) => {
  const child = spawnUncovered("npm", ["start"], {
    cwd: repositoryRoot,
    env: { ...serviceProcessEnv(`test-start-${process.pid}`), HOME: process.env.HOME ?? "" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const seen = new Promise<void>((resolve) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (/\[auth\].*Server listening at/.test(output) && /\[mailer\].*mailer started/.test(output)) resolve();
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
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
  return startCollected(process.execPath, typeScriptEntry(`${repositoryRoot}/services/mailer/src/main.ts`), {
    env: {
      ...serviceProcessEnv(`test-start-mailer-${process.pid}`),
      RATE_LIMIT_SIGN_IN: "lots",
      BETTER_AUTH_SECRET: "short",
      TRUST_PROXY: "true",
      ...env,
    },
  });
}

t.test("the mailer starts whatever the auth service's variables say, and refuses its own bad values by name", async (t) => {
  const mailer = startMailerAlone({});
  t.teardown(() => {
    if (mailer.child.exitCode === null) mailer.child.kill("SIGKILL");
  });
  const exited = once(mailer.child, "exit");
  const started = new Promise<void>((resolve) => mailer.child.stdout!.on("data", () => /mailer started/.test(mailer.output()) && resolve()));
  await Promise.race([started, exited.then(() => Promise.reject(new Error(`the mailer exited:\n${mailer.output()}`)))]);
  mailer.child.kill("SIGTERM");
  t.same(await exited, [0, null], "SIGTERM stops it cleanly");

  const refused = startMailerAlone({ MAILER_CONCURRENCY: "0" });
  const [code] = await once(refused.child, "exit");
  t.equal(code, 1);
  t.match(refused.output(), /MAILER_CONCURRENCY: must be a whole number from 1 to 100/);
  t.notMatch(refused.output(), /RATE_LIMIT_SIGN_IN|BETTER_AUTH_SECRET|TRUST_PROXY/);
});
