// scripts/build-images.sh: the images it builds are the ones the overlays run, and CI without a
// container engine skips it with a line instead of failing. The engine is a recording stand-in
// here (no engine runs on this machine); what is checked is what the script asks of it.
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t, { type Test } from "tap";
import { overlays, render, root, workloads } from "./fixtures/kustomize.js";

const script = join(root, "scripts/build-images.sh");
const run = (args: string[], env: Record<string, string> = {}) =>
  spawnSync("bash", [script, ...args], { cwd: root, encoding: "utf8", env: { PATH: process.env.PATH ?? "", ...env } });

const version = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version as string;
const printedTags = () => run(["--print-tags"]).stdout.trim().split("\n");

t.test("the script tags exactly the images the overlays run", async (t) => {
  const tags = printedTags();
  t.same(tags, [
    `ghcr.io/temetro/temetro-auth:${version}`,
    "ghcr.io/temetro/temetro-auth:latest",
    `ghcr.io/temetro/temetro-mailer:${version}`,
    "ghcr.io/temetro/temetro-mailer:latest",
  ]);
  for (const overlay of overlays) {
    const images = new Set(workloads(render(overlay)).flatMap((workload) => workload.spec.template.spec.containers.map((container: { image: string }) => container.image)));
    for (const image of images) t.ok(tags.includes(image), `${overlay} runs ${image}, which the script builds`);
  }
});

/** A stand-in engine: answers `info` as told and records every other command it is given. */
function recordingEngine(t: Test, engineUp: boolean) {
  const directory = mkdtempSync(join(tmpdir(), "temetro-engine-"));
  t.teardown(() => rmSync(directory, { recursive: true, force: true }));
  const log = join(directory, "commands");
  const engine = join(directory, "engine");
  writeFileSync(engine, `#!/bin/sh\n[ "$1" = info ] && exit ${engineUp ? 0 : 1}\necho "$*" >> '${log}'\n`);
  chmodSync(engine, 0o755);
  return { engine, commands: () => { try { return readFileSync(log, "utf8").trim().split("\n"); } catch { return []; } } };
}

t.test("with an engine it builds each Dockerfile target under its tags, and pushes them only with PUSH=1", async (t) => {
  const { engine, commands } = recordingEngine(t, true);
  const built = run([], { ENGINE: engine });
  t.equal(built.status, 0, built.stderr);
  t.same(commands(), [
    `build --target auth --tag ghcr.io/temetro/temetro-auth:${version} --tag ghcr.io/temetro/temetro-auth:latest --label org.opencontainers.image.version=${version} .`,
    `build --target mailer --tag ghcr.io/temetro/temetro-mailer:${version} --tag ghcr.io/temetro/temetro-mailer:latest --label org.opencontainers.image.version=${version} .`,
  ]);
  const dockerfile = readFileSync(join(root, "Dockerfile"), "utf8");
  for (const target of ["auth", "mailer"]) t.match(dockerfile, new RegExp(`^FROM \\S+ AS ${target}$`, "m"), `the Dockerfile has the target ${target}`);

  const pushed = run([], { ENGINE: engine, PUSH: "1", REGISTRY: "registry.example/clinic" });
  t.equal(pushed.status, 0);
  t.same(commands().filter((command) => command.startsWith("push")), [
    `push registry.example/clinic/temetro-auth:${version}`,
    "push registry.example/clinic/temetro-auth:latest",
    `push registry.example/clinic/temetro-mailer:${version}`,
    "push registry.example/clinic/temetro-mailer:latest",
  ]);
});

t.test("without an engine: CI's --if-engine skips with a line, a person's run fails saying why", async (t) => {
  const { engine, commands } = recordingEngine(t, false);
  const ci = run(["--if-engine"], { ENGINE: engine });
  t.equal(ci.status, 0);
  t.match(ci.stdout, /no container engine answers .*: images not built/);
  const person = run([], { ENGINE: engine });
  t.equal(person.status, 1);
  t.match(person.stderr, /no container engine answers/);
  t.same(commands(), [], "nothing was built");
  t.match(readFileSync(join(root, ".ci/run"), "utf8"), /scripts\/build-images\.sh --if-engine/, "CI runs it");
});
