import t from "tap";
import { repositoryRoot, buildTestApp, TEST_SECRET, testDatabaseUrl } from "@temetro/test-support/auth-app";
import { cookieOf, pathOf, PASSWORD, signIn, uniqueEmail } from "@temetro/test-support/auth-requests";
import { startCollected, typeScriptEntry } from "@temetro/test-support/processes";

// `npm run create-owner` as an operator runs it: a real process against the real database, on an
// install closed to sign-ups and to clinic creation; its printed link is followed as the owner would.

async function createOwner(args: string[]) {
  const run = startCollected(process.execPath, typeScriptEntry(`${repositoryRoot}/services/auth/src/create-owner-cli.ts`).concat(args), {
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
  const [code] = await run.exited;
  return { code, output: run.output() };
}

t.test("create-owner makes the owner and the clinic; its one-time link sets the password, which then signs in", async (t) => {
  const { app } = await buildTestApp(t, { env: { SIGN_UP: "closed", CLINIC_CREATION: "none" } });
  const email = uniqueEmail("owner");
  const { code, output } = await createOwner(["--email", email, "--clinic", "Harbour Family Practice", "--name", "Dr. Lena Ortiz"]);
  if (code !== 0) t.comment(output);
  t.equal(code, 0, "create-owner succeeds");
  t.match(output, `Created the owner ${email} of the clinic "Harbour Family Practice"`);
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
  t.equal(clinics[0].name, "Harbour Family Practice");
  t.equal(clinics[0].slug, "harbour-family-practice");
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

t.test("create-owner refuses an address that already has an account, and creates nothing", async (t) => {
  await buildTestApp(t);
  const email = uniqueEmail("owner");
  t.equal((await createOwner(["--email", email, "--clinic", "First Clinic"])).code, 0);
  const again = await createOwner(["--email", email.toUpperCase(), "--clinic", "Second Clinic"]);
  t.equal(again.code, 1);
  t.match(again.output, `an account with ${email} already exists: nothing was created`);
  t.notMatch(again.output, /reset-password\//, "no link for someone else's account");
});

t.test("create-owner without --email or --clinic says how to call it", async (t) => {
  const run = await createOwner(["--email", uniqueEmail()]);
  t.equal(run.code, 1);
  t.match(run.output, "--email and --clinic are required");
  t.match(run.output, "usage: npm run create-owner -- --email");
});
