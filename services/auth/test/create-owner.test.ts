import t, { type Test } from "tap";
import { repositoryRoot, buildTestApp, TEST_SECRET, testDatabaseUrl } from "@temetro/test-support/auth-app";
import type { FastifyInstance } from "fastify";
import pg from "pg";
import { cookieOf, pathOf, PASSWORD, signIn, signUp, uniqueEmail } from "@temetro/test-support/auth-requests";
import { startCollected, typeScriptEntry } from "@temetro/test-support/processes";

// `npm run create-owner` as an operator runs it: a real process against the real database, on an
// install closed to sign-ups and to clinic creation; its printed link is followed as the owner would.

function startCreateOwner(args: string[]) {
  return startCollected(process.execPath, typeScriptEntry(`${repositoryRoot}/services/auth/src/create-owner-cli.ts`).concat(args), {
    env: {
      PATH: process.env.PATH ?? "",
      DATABASE_URL: testDatabaseUrl,
      BETTER_AUTH_SECRET: TEST_SECRET,
      BETTER_AUTH_URL: "http://localhost:4000",
      FRONTEND_URL: "http://localhost:3000",
      SIGN_UP: "closed",
      CLINIC_CREATION: "none",
      LOG_FORMAT: "json",
    },
  });
}

async function createOwner(args: string[]) {
  const run = startCreateOwner(args);
  const [code] = await run.exited;
  return { code, output: run.output() };
}

/** Follows the printed link as the owner would, chooses the password and signs in: the session's cookie. */
async function takeOver(t: Test, app: FastifyInstance, output: string, email: string): Promise<string> {
  const link = /^(http:\/\/localhost:4000\/api\/auth\/reset-password\/\S+)$/m.exec(output)?.[1];
  t.ok(link, "the link is printed on a line of its own");
  const opened = await app.inject({ method: "GET", url: pathOf(link!) });
  const token = new URL(String(opened.headers.location)).searchParams.get("token");
  const reset = await app.inject({ method: "POST", url: "/api/auth/reset-password", payload: { token, newPassword: PASSWORD } });
  t.equal(reset.statusCode, 200, `the link sets the password: ${reset.body}`);
  const signedIn = await signIn(app, email);
  t.equal(signedIn.statusCode, 200, signedIn.body);
  return cookieOf(signedIn);
}

/** The accounts with this address, and the clinics each owns: what an interrupted run may leave. */
async function ownersOf(email: string): Promise<{ clinics: string[] }[]> {
  const client = new pg.Client({ connectionString: testDatabaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ clinics: string[] }>(
      `SELECT array_remove(array_agg(o."slug" ORDER BY o."slug"), NULL) AS clinics FROM "user" u
         LEFT JOIN "member" m ON m."userId" = u."id" AND m."role" = 'owner' LEFT JOIN "organization" o ON o."id" = m."organizationId"
        WHERE lower(u."email") = $1 GROUP BY u."id"`,
      [email],
    );
    return rows;
  } finally {
    await client.end();
  }
}

t.test("create-owner makes the owner and the clinic; its one-time link sets the password, which then signs in", async (t) => {
  const { app } = await buildTestApp(t, { env: { SIGN_UP: "closed", CLINIC_CREATION: "none" } });
  const email = uniqueEmail("owner");
  // The test database outlives a run: a name of this run's own, so its slug is free.
  const suffix = email.slice(6, 14);
  const name = `Harbour Family Practice ${suffix.toUpperCase()}`;
  const { code, output } = await createOwner(["--email", email, "--clinic", name, "--name", "Dr. Lena Ortiz"]);
  if (code !== 0) t.comment(output);
  t.equal(code, 0, "create-owner succeeds");
  t.match(output, `Created the owner ${email} of the clinic "${name}"`);
  const link = /^(http:\/\/localhost:4000\/api\/auth\/reset-password\/\S+)$/m.exec(output)?.[1];
  t.ok(link, "the link is printed on a line of its own");
  t.notMatch(output, /password"?\s*[:=]/i, "no password is printed or asked for");

  const opened = await app.inject({ method: "GET", url: pathOf(link!) });
  t.equal(opened.statusCode, 302);
  const token = new URL(String(opened.headers.location)).searchParams.get("token");
  t.ok(token, "the link leads to the web app's reset page with its token");
  const reset = await app.inject({ method: "POST", url: "/api/auth/reset-password", payload: { token, newPassword: PASSWORD } });
  t.equal(reset.statusCode, 200, reset.body);

  const signedIn = await signIn(app, email);
  t.equal(signedIn.statusCode, 200, signedIn.body);
  const cookie = cookieOf(signedIn);
  const clinics = (await app.inject({ method: "GET", url: "/api/auth/organization/list", headers: { cookie } })).json();
  t.equal(clinics.length, 1);
  t.equal(clinics[0].name, name);
  t.equal(clinics[0].slug, `harbour-family-practice-${suffix}`, "the slug is made from the name");
  const active = await app.inject({
    method: "POST",
    url: "/api/auth/organization/set-active",
    headers: { cookie },
    payload: { organizationId: clinics[0].id },
  });
  t.equal(active.statusCode, 200);
  const member = await app.inject({ method: "GET", url: "/api/auth/organization/get-active-member", headers: { cookie: cookieOf(active) || cookie } });
  t.equal(member.json().role, "owner");

  const reused = await app.inject({ method: "POST", url: "/api/auth/reset-password", payload: { token, newPassword: `${PASSWORD}-again` } });
  t.equal(reused.statusCode, 400, "the link works once");
});

t.test("create-owner refuses an address whose account has a password, and creates nothing", async (t) => {
  const { app } = await buildTestApp(t);
  const owner = uniqueEmail("owner");
  const slug = `first-${owner.slice(6, 14)}`;
  const first = await createOwner(["--email", owner, "--clinic", "First Clinic", "--slug", slug]);
  t.equal(first.code, 0);
  await takeOver(t, app, first.output, owner);
  const member = uniqueEmail("member");
  await signUp(app, { email: member });
  for (const email of [owner, member]) {
    const again = await createOwner(["--email", email.toUpperCase(), "--clinic", "Second Clinic"]);
    t.equal(again.code, 1);
    t.match(again.output, `an account with ${email} already exists: nothing was created`);
    t.notMatch(again.output, /reset-password\//, "no link for someone else's account");
  }
  t.same(await ownersOf(owner), [{ clinics: [slug] }], "the owner still owns only the first clinic");
  t.same(await ownersOf(member), [{ clinics: [] }], "the member owns nothing");
});

t.test("run again after an interruption, create-owner finishes the owner and clinic it left, and a lost link is issued anew", async (t) => {
  const { app } = await buildTestApp(t, { env: { SIGN_UP: "closed", CLINIC_CREATION: "none" } });
  const email = uniqueEmail("owner");
  const slug = `clinic-${email.slice(6, 14)}`;
  // Killed at a random moment, later each time (a run takes seconds, its writes come last): each
  // time it may have written nothing, the account, the account and the clinic, or even finished.
  for (let attempt = 0; attempt < 4; attempt++) {
    const run = startCreateOwner(["--email", email, "--clinic", "Lakeside Clinic", "--slug", slug]);
    await new Promise((resolve) => setTimeout(resolve, 1000 + attempt * 1500 + Math.random() * 1000));
    run.child.kill("SIGKILL");
    await run.exited;
  }
  const left = await ownersOf(email);
  t.ok(left.length <= 1 && (left[0]?.clinics.length ?? 0) <= 1, `the interrupted runs left at most one owner and one clinic: ${JSON.stringify(left)}`);

  const finished = await createOwner(["--email", email, "--clinic", "Lakeside Clinic", "--slug", slug]);
  t.equal(finished.code, 0, finished.output);
  t.same(await ownersOf(email), [{ clinics: [slug] }], "one owner, one clinic");

  // A run that died before printing, or a link lost or expired: the same command prints a new one,
  // and creates no second clinic even when asked for another.
  const lost = await createOwner(["--email", email, "--clinic", "Another Clinic"]);
  t.equal(lost.code, 0, lost.output);
  t.match(lost.output, `The owner ${email} of the clinic "Lakeside Clinic" (slug ${slug}) exists but has not chosen a password yet (no clinic "Another Clinic" was created): here is a new link.`);
  t.same(await ownersOf(email), [{ clinics: [slug] }], "still one owner, one clinic");

  const cookie = await takeOver(t, app, lost.output, email);
  const clinics = (await app.inject({ method: "GET", url: "/api/auth/organization/list", headers: { cookie } })).json();
  t.match(clinics, [{ slug, name: "Lakeside Clinic" }], "the owner signs in to the clinic");
  const after = await createOwner(["--email", email, "--clinic", "Lakeside Clinic"]);
  t.equal(after.code, 1, "once the owner has chosen a password, the command refuses");
  t.notMatch(after.output, /reset-password\//);
});

t.test("an account an interrupted run left, without a clinic, gets its clinic on the next run", async (t) => {
  const { app } = await buildTestApp(t, { env: { SIGN_UP: "closed", CLINIC_CREATION: "none" } });
  const email = uniqueEmail("owner");
  // What a run killed between its two writes leaves: the verified account, no password, no clinic.
  const client = new pg.Client({ connectionString: testDatabaseUrl });
  await client.connect();
  await client.query(
    `INSERT INTO "user" ("id", "name", "email", "emailVerified", "createdAt", "updatedAt") VALUES ($1, 'Dr. Lena Ortiz', $2, true, now(), now())`,
    [`interrupted-${email.slice(6, 20)}`, email],
  );
  await client.end();
  const slug = `harbour-${email.slice(6, 14)}`;
  const finished = await createOwner(["--email", email, "--clinic", "Harbour Clinic", "--slug", slug]);
  t.equal(finished.code, 0, finished.output);
  t.match(finished.output, `Finished an earlier, interrupted run: created the owner ${email} of the clinic "Harbour Clinic" (slug ${slug}).`);
  const cookie = await takeOver(t, app, finished.output, email);
  const clinics = (await app.inject({ method: "GET", url: "/api/auth/organization/list", headers: { cookie } })).json();
  t.match(clinics, [{ name: "Harbour Clinic" }]);
});

t.test("create-owner without --email or --clinic says how to call it", async (t) => {
  const run = await createOwner(["--email", uniqueEmail()]);
  t.equal(run.code, 1);
  t.match(run.output, "--email and --clinic are required");
  t.match(run.output, "usage: npm run create-owner -- --email");
});
