// The README's quick start, run as a newcomer runs it: `npm start`, then the README's own shell
// blocks through bash and curl, with only the placeholders a reader fills in (the one-time link's
// token, the passwords typed at `read -rs`, the links from the emails) filled in by the test. A
// change to the service that breaks a documented command, or a README edit that breaks the
// service's flow, fails here. The emails are read where a newcomer without Mailpit reads them:
// the mailer's lines of `npm start`'s output.
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import pg from "pg";
import t from "tap";
import { repositoryRoot, TEST_SECRET, testRedisUrl } from "@temetro/test-support/auth-app";
import { cleanUpIfOrphaned, outputMatch, startCollected } from "@temetro/test-support/processes";
import { waitUntil } from "@temetro/test-support/polling";

/** The shell blocks of the README's quick start, in order. */
function quickStartBlocks(): string[] {
  const readme = readFileSync(join(repositoryRoot, "README.md"), "utf8");
  const start = readme.indexOf("### Quick start");
  const end = readme.indexOf("\n### ", start + 1);
  const section = readme.slice(start, end);
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((match) => match[1]!);
}

async function freePort(): Promise<number> {
  const probe = createServer().listen(0, "127.0.0.1");
  await once(probe, "listening");
  const { port } = probe.address() as { port: number };
  probe.close();
  await once(probe, "close");
  return port;
}

/** A command line of a block, without its trailing `# comment` (kept when inside quotes: none of ours are). */
const withoutComment = (line: string) => line.replace(/\s+#\s.*$/, "").trim();

t.test("the README's quick start reaches a signed-in owner, a clinic and an invited colleague who accepted", async (t) => {
  const blocks = quickStartBlocks();
  t.equal(blocks.length, 4, "four shell blocks: start, create-owner, the owner's requests, the colleague's");
  const [startBlock, ownerBlock, ownerRequests, colleagueBlock] = blocks as [string, string, string, string];
  t.match(startBlock, /^npm start/m, "the first block starts the service with npm start");

  // A database of its own, which `npm start` creates (as it does on a new machine), and a port of
  // its own that the README's `localhost:4000` is rewritten to.
  const database = `temetro_quickstart_${randomUUID().slice(0, 8)}`;
  const port = await freePort();
  const origin = `http://localhost:${port}`;
  const workDir = mkdtempSync(join(tmpdir(), "temetro-quickstart-"));
  const env = {
    PATH: process.env.PATH ?? "",
    HOME: workDir,
    HOST: "127.0.0.1",
    PORT: String(port),
    INTERNAL_PORT: "0",
    MAILER_HTTP_PORT: "0",
    DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${database}`,
    REDIS_URL: testRedisUrl,
    REDIS_PREFIX: `test-quickstart-${randomUUID().slice(0, 8)}`,
    BETTER_AUTH_SECRET: TEST_SECRET,
    // What the reader types at the blocks' `read -rs`.
    PASSWORD: "Quiet-harbour-lamp-47",
    COLLEAGUE_PASSWORD: "Amber-river-stone-92",
  };
  t.teardown(async () => {
    rmSync(workDir, { recursive: true, force: true });
    const admin = new pg.Client({ connectionString: "postgres://postgres@127.0.0.1:5432/postgres" });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
  });

  const service = startCollected("npm", ["start"], { cwd: repositoryRoot, env, detached: true });
  cleanUpIfOrphaned({ pid: service.child.pid });
  t.teardown(async () => {
    if (service.child.exitCode !== null) return;
    process.kill(-service.child.pid!, "SIGTERM");
    await service.exited;
  });
  await outputMatch(service, new RegExp(`Server listening at http://127\\.0\\.0\\.1:${port}`), "the auth service listening");
  await outputMatch(service, /mailer started/, "the mailer started");

  const localized = (text: string) => text.replaceAll("http://localhost:4000", origin);
  // A `read -rs NAME` is the reader typing NAME's value, which the environment already holds.
  const typed = (script: string) => script.replace(/\bread -rs (\w+)/g, (_, name: string) => (t.ok(name in env, `${name} is typed`), "true"));
  // The reader's second terminal, in the checkout (where `npm run` finds the project); cookie jars
  // go to a directory of the test's own.
  const shell = (script: string, cwd = workDir) => {
    const run = spawnSync("bash", ["-c", `set -eo pipefail\n${script}`], { cwd, env, encoding: "utf8", timeout: 60_000 });
    t.equal(run.status, 0, `bash ran: ${script.split("\n").at(-1)!.slice(0, 60)}`, { script, stderr: run.stderr });
    return run.stdout;
  };

  // create-owner, as written; the one-time link is what the owner opens.
  const created = shell(
    ownerBlock
      .split("\n")
      .filter((line) => line.trim() !== "" && !line.startsWith("#"))
      .join("\n"),
    repositoryRoot,
  );
  const link = /http:\/\/localhost:(\d+)\/api\/auth\/reset-password\/([A-Za-z0-9_-]+)\?/.exec(created);
  t.ok(link, `create-owner printed a one-time link:\n${created}`);
  t.equal(link![1], String(port), "the link names the service's port (BETTER_AUTH_URL follows PORT)");

  // The owner's requests, as written, with the token pasted and the password "typed".
  const owner = shell(
    typed(localized(ownerRequests).replace("'<token>'", `'${link![2]}'`)),
  )
    .trim()
    .split("\n");
  t.same(JSON.parse(owner[0]!), { status: true }, "reset-password: the owner chose a password");
  t.match(JSON.parse(owner[1]!), { user: { email: "owner@clinic.example", emailVerified: true } }, "the owner signed in");
  t.match(JSON.parse(owner[2]!), [{ name: "Sunrise Clinic", slug: "sunrise-clinic" }], "the owner's clinic is listed");
  t.match(JSON.parse(owner[3]!), { slug: "sunrise-clinic" }, "it is the active clinic");
  const invitation = JSON.parse(owner[4]!) as { id: string; role: string; status: string };
  t.match(invitation, { email: "colleague@clinic.example", role: "doctor", status: "pending" }, "the colleague is invited as a doctor");

  // The colleague's block, one command at a time: the verification link exists only after the
  // sign-up, and the invitation id comes from the invitation email.
  const emails = () => service.output().split("\n").filter((line) => line.startsWith("[mailer]")).join("\n");
  const invitationLink = new RegExp(`accept-invitation\\?invitationId=(${invitation.id})`);
  await waitUntil(() => invitationLink.test(emails()), "the invitation email in the mailer's log", 30_000);

  const lines = localized(colleagueBlock)
    .split("\n")
    .map(withoutComment)
    .filter((line) => line !== "");
  const definitions = lines.filter((line) => /^\w+\(\) \{/.test(line)).join("\n");
  const answers: string[] = [];
  for (const line of lines.filter((line) => !/^\w+\(\) \{/.test(line))) {
    let command = typed(line);
    if (command === "true") continue;
    if (command.includes("<verification link>")) {
      const verification = new RegExp(`${origin.replaceAll(".", "\\.")}/api/auth/verify-email\\?token=[^\\s"\\\\]+`);
      await waitUntil(() => verification.test(emails()), "the verification email in the mailer's log", 30_000);
      command = command.replace("<verification link>", verification.exec(emails())![0]);
    }
    command = command.replace("<invitationId from the invitation link>", invitationLink.exec(emails())![1]!);
    answers.push(shell(`${definitions}\n${command}`).trim());
  }
  t.match(JSON.parse(answers[0]!), { user: { email: "colleague@clinic.example", emailVerified: false } }, "the colleague signed up");
  t.equal(answers[1], "", "the verification link was followed");
  t.match(JSON.parse(answers[2]!), { invitation: { status: "accepted" }, member: { role: "doctor" } }, "the invitation is accepted");
  t.match(
    JSON.parse(answers[3]!),
    { clinic: { slug: "sunrise-clinic" }, role: "doctor", permissions: { patient: ["read", "write"] } },
    "the colleague acts in the clinic as a doctor",
  );

  // What the README says the owner then sees.
  const staff = shell(localized("curl -s -b cookies.txt http://localhost:4000/api/staff"));
  t.match(
    JSON.parse(staff),
    { staff: [{ email: "owner@clinic.example", role: "owner" }, { email: "colleague@clinic.example", role: "doctor", status: "active" }] },
    "the owner's staff list shows both",
  );
  t.notMatch(service.output(), env.PASSWORD, "no password in the service's output");
  t.notMatch(service.output(), env.COLLEAGUE_PASSWORD, "no password in the service's output");
});
