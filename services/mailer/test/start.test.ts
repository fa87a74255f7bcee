// The root `npm start`: the auth service and the mailer side by side; SIGTERM stops both.
import { once } from "node:events";
import t from "tap";
import { repositoryRoot } from "@temetro/test-support/auth-app";
import { serviceProcessEnv } from "@temetro/test-support/auth-process";
import { spawnUncovered } from "@temetro/test-support/processes";

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
