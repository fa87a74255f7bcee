// What the web app (Better Auth's client) and other services read about an account is what holds:
// change-password says the forced change is over; a staff account without an address shows none
// (`email: null`), never the placeholder that stands in for it, on every entrance.
import type { FastifyInstance } from "fastify";
import t, { type Test } from "tap";
import { buildInternalApp } from "../src/internal-app.js";
import { buildReplicas } from "@temetro/test-support/auth-app";
import { cookieOf, createClinic, createStaff, PASSWORD, signInByUsername, signUp, uniqueEmail } from "@temetro/test-support/auth-requests";

const NEW_PASSWORD = "another-long-secure-password";
/** The placeholder domain of staff-store.ts, spelled out: the test must not depend on the constant it checks. */
const placeholder = /staff\.temetro\.invalid/i;

async function internalOf(t: Test, app: FastifyInstance) {
  const internal = await buildInternalApp(app);
  t.teardown(() => internal.close());
  return internal;
}

async function staffWithoutAddress(t: Test) {
  const [a, b] = await buildReplicas(t, 2);
  const owner = await signUp(a!.app);
  const clinic = await createClinic(a!.app, owner.cookie);
  const staff = await createStaff(a!.app, owner.cookie, { role: "doctor" });
  const signedIn = await signInByUsername(b!.app, staff.username);
  t.equal(signedIn.statusCode, 200);
  return { a: a!.app, b: b!.app, owner, clinic, staff, signedIn, cookie: cookieOf(signedIn) };
}

t.test("change-password answers mustChangePassword: false once the forced change is over", async (t) => {
  const { a, b, cookie, signedIn } = await staffWithoutAddress(t);
  t.equal(signedIn.json().user.mustChangePassword, true, "sign-in says a change is due");
  const change = await a.inject({
    method: "POST",
    url: "/api/auth/change-password",
    headers: { cookie },
    payload: { currentPassword: PASSWORD, newPassword: NEW_PASSWORD },
  });
  t.equal(change.statusCode, 200);
  t.equal(change.json().user.mustChangePassword, false, "the answer says what now holds");
  const session = await b.inject({ method: "GET", url: "/api/auth/get-session", headers: { cookie } });
  t.equal(session.json().user.mustChangePassword, false, "and so does get-session on the other replica");
});

t.test("a staff account without an address shows email: null in sign-in, get-session, change-password, introspection and /api/staff", async (t) => {
  const { a, b, owner, clinic, staff, signedIn, cookie } = await staffWithoutAddress(t);
  t.equal(signedIn.json().user.email, null, "sign-in");
  t.notMatch(signedIn.body, placeholder);

  for (const app of [a, b]) {
    const session = await app.inject({ method: "GET", url: "/api/auth/get-session", headers: { cookie } });
    t.equal(session.statusCode, 200);
    t.equal(session.json().user.email, null, "get-session");
    t.equal(session.json().user.username, staff.username.toLowerCase(), "the account is still itself");
    t.notMatch(session.body, placeholder);
  }

  const introspection = await (await internalOf(t, b)).inject({ method: "POST", url: "/internal/v1/introspect", payload: { cookie } });
  t.equal(introspection.json().active, true);
  t.equal(introspection.json().user.email, null, "introspection");
  t.notMatch(introspection.body, placeholder);

  const list = await a.inject({ method: "GET", url: "/api/staff", headers: { cookie: owner.cookie } });
  const listed = list.json().staff.find((member: { userId: string }) => member.userId === staff.userId);
  t.equal(listed.email, null, "/api/staff");
  t.notMatch(list.body, placeholder);

  // Better Auth's member lists of the clinic say the same as /api/staff.
  const members = await b.inject({ method: "GET", url: `/api/auth/organization/list-members?organizationId=${clinic.id}`, headers: { cookie: owner.cookie } });
  t.equal(members.statusCode, 200);
  const member = members.json().members.find((entry: { userId: string }) => entry.userId === staff.userId);
  t.equal(member.user.email, null, "organization/list-members");
  t.notMatch(members.body, placeholder);
  const full = await a.inject({ method: "GET", url: `/api/auth/organization/get-full-organization?organizationId=${clinic.id}`, headers: { cookie: owner.cookie } });
  t.equal(full.statusCode, 200);
  t.ok(full.json().members.some((entry: { user: { email: unknown } }) => entry.user.email === owner.email), "a real address stays");
  t.notMatch(full.body, placeholder, "organization/get-full-organization");

  const change = await b.inject({
    method: "POST",
    url: "/api/auth/change-password",
    headers: { cookie },
    payload: { currentPassword: PASSWORD, newPassword: NEW_PASSWORD },
  });
  t.equal(change.json().user.email, null, "change-password");
  t.notMatch(change.body, placeholder);
});

t.test("an account with a real address shows it everywhere", async (t) => {
  const [a, b] = await buildReplicas(t, 2);
  const owner = await signUp(a!.app);
  await createClinic(a!.app, owner.cookie);
  const email = uniqueEmail("staff");
  const staff = await createStaff(a!.app, owner.cookie, { role: "doctor", email });
  const signedIn = await signInByUsername(b!.app, staff.username);
  t.equal(signedIn.json().user.email, email);
  const cookie = cookieOf(signedIn);
  const session = await a!.app.inject({ method: "GET", url: "/api/auth/get-session", headers: { cookie } });
  t.equal(session.json().user.email, email);
  const introspection = await (await internalOf(t, a!.app)).inject({ method: "POST", url: "/internal/v1/introspect", payload: { cookie } });
  t.equal(introspection.json().user.email, email);
});
