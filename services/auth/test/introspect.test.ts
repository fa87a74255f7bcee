// POST /internal/v1/introspect: other services ask who a request belongs to.
import type { FastifyInstance } from "fastify";
import t, { type Test } from "tap";
import { buildInternalApp } from "../src/internal-app.js";
import { buildTestApp } from "@temetro/test-support/auth-app";
import { addMember, cookieOf, createClinic, createStaff, signIn, signUp, uniqueEmail } from "@temetro/test-support/auth-requests";
import { eventually } from "@temetro/test-support/polling";

async function internalOf(t: Test, app: FastifyInstance) {
  const internal = await buildInternalApp(app);
  t.teardown(() => internal.close());
  return internal;
}

const introspect = async (internal: FastifyInstance, body: object, headers: Record<string, string> = {}) =>
  internal.inject({ method: "POST", url: "/internal/v1/introspect", payload: body, headers });

t.test("a valid session cookie: the user, the session and the active clinic with role and permissions", async (t) => {
  const { app } = await buildTestApp(t);
  const internal = await internalOf(t, app);
  const owner = await signUp(app, { name: "Dr. Amina Yusuf", username: `amina${Date.now().toString(36)}` });
  const clinic = await createClinic(app, owner.cookie, "Sunrise Clinic");

  const response = await introspect(internal, { cookie: owner.cookie });
  t.equal(response.statusCode, 200);
  const body = response.json();
  t.match(body, {
    active: true,
    user: { id: owner.userId, name: "Dr. Amina Yusuf", email: owner.email, username: owner.username, emailVerified: true },
    session: { id: String, expiresAt: String },
    clinic: { id: clinic.id, slug: clinic.slug, name: "Sunrise Clinic", role: "owner" },
  });
  t.same(body.clinic.permissions.patient, ["read", "write", "delete"]);
  t.ok(Date.parse(body.session.expiresAt) > Date.now());
  t.notOk("token" in body.session, "the token is not echoed");
});

t.test("a raw session token works like the cookie", async (t) => {
  const { app } = await buildTestApp(t);
  const internal = await internalOf(t, app);
  const { email } = await signUp(app);
  const token = (await signIn(app, email)).json().token as string;
  const body = (await introspect(internal, { token })).json();
  t.match(body, { active: true, user: { email }, clinic: null });
});

t.test("no session, a forged cookie, an unknown token: inactive", async (t) => {
  const { app } = await buildTestApp(t);
  const internal = await internalOf(t, app);
  const { cookie } = await signUp(app);
  const [name, value] = cookie.split("=") as [string, string];
  const tampered = `${name}=${decodeURIComponent(value).replace(/^./, (c) => (c === "A" ? "B" : "A"))}`;
  for (const body of [{ cookie: "" }, { cookie: "other=1" }, { cookie: tampered }, { token: "not-a-session-token" }]) {
    const response = await introspect(internal, body);
    t.equal(response.statusCode, 200);
    t.same(response.json(), { active: false }, JSON.stringify(body));
  }
});

t.test("bad requests get a 400 with a stable code", async (t) => {
  const { app } = await buildTestApp(t);
  const internal = await internalOf(t, app);
  for (const payload of [{}, { cookie: 5 }, { cookie: "a", extra: true }]) {
    const response = await introspect(internal, payload);
    t.equal(response.statusCode, 400, JSON.stringify(payload));
    t.equal(response.json().code, "VALIDATION_ERROR");
  }
  const malformed = await internal.inject({
    method: "POST",
    url: "/internal/v1/introspect",
    headers: { "content-type": "application/json" },
    payload: "{not json",
  });
  t.equal(malformed.statusCode, 400);
  t.equal(malformed.json().code, "INVALID_JSON");
});

t.test("across two replicas sharing Redis: sign-out, removal and role change show at once", async (t) => {
  const prefix = `test-replicas-${Date.now().toString(36)}`;
  const { app: first } = await buildTestApp(t, { env: { REDIS_PREFIX: prefix } });
  const { app: second } = await buildTestApp(t, { env: { REDIS_PREFIX: prefix } });
  const internalFirst = await internalOf(t, first);

  const owner = await signUp(first);
  const clinic = await createClinic(first, owner.cookie);
  const doctor = await addMember(first, owner.cookie, clinic.id, "doctor");

  // The first replica has answered (and keeps the answer).
  t.match((await introspect(internalFirst, { cookie: doctor.cookie })).json(), { active: true, clinic: { role: "doctor" } });
  t.match((await introspect(internalFirst, { cookie: doctor.cookie })).json(), { active: true, clinic: { role: "doctor" } });

  // The role changes through the second replica.
  const memberId = (await second.inject({
    method: "GET",
    url: `/api/auth/organization/list-members?organizationId=${clinic.id}`,
    headers: { cookie: owner.cookie },
  })).json().members.find((m: { userId: string }) => m.userId === doctor.userId).id;
  const update = await second.inject({
    method: "POST",
    url: "/api/auth/organization/update-member-role",
    headers: { cookie: owner.cookie },
    payload: { memberId, role: "lab", organizationId: clinic.id },
  });
  t.equal(update.statusCode, 200);
  const afterRole = await eventually(
    async () => (await introspect(internalFirst, { cookie: doctor.cookie })).json(),
    (body) => body.clinic?.role === "lab",
  );
  t.equal(afterRole.clinic.role, "lab", "the new role shows on the first replica");
  t.same(afterRole.clinic.permissions.lab, ["read", "write"]);

  // Removed through the second replica: the sessions acting in that clinic end.
  const removal = await second.inject({
    method: "POST",
    url: "/api/auth/organization/remove-member",
    headers: { cookie: owner.cookie },
    payload: { memberIdOrEmail: doctor.email, organizationId: clinic.id },
  });
  t.equal(removal.statusCode, 200);
  const afterRemoval = await eventually(
    async () => (await introspect(internalFirst, { cookie: doctor.cookie })).json(),
    (body) => body.active === false,
  );
  t.same(afterRemoval, { active: false }, "the removed member's session no longer acts");
  t.equal((await first.inject({ method: "GET", url: "/api/clinic", headers: { cookie: doctor.cookie } })).statusCode, 401);

  // Signed out through the second replica.
  t.equal((await second.inject({ method: "POST", url: "/api/auth/sign-out", headers: { cookie: owner.cookie } })).statusCode, 200);
  const afterSignOut = await eventually(
    async () => (await introspect(internalFirst, { cookie: owner.cookie })).json(),
    (body) => body.active === false,
  );
  t.same(afterSignOut, { active: false }, "the signed-out session is inactive on the first replica");
});

t.test("an expired session is inactive", async (t) => {
  const { app } = await buildTestApp(t);
  const internal = await internalOf(t, app);
  const { cookie, userId } = await signUp(app);
  t.match((await introspect(internal, { cookie })).json(), { active: true });
  await app.pg.query(`UPDATE "session" SET "expiresAt" = now() - interval '1 second' WHERE "userId" = $1`, [userId]);
  await app.sessions.invalidate(`user:${userId}`); // what a change through Better Auth announces
  t.same((await introspect(internal, { cookie })).json(), { active: false });
});

t.test("with INTERNAL_TOKEN set, callers must present it", async (t) => {
  const secret = "internal-token-for-tests-0123456789abcdef";
  const { app } = await buildTestApp(t, { env: { INTERNAL_TOKEN: secret } });
  const internal = await internalOf(t, app);
  const { cookie } = await signUp(app);
  for (const headers of [{}, { authorization: "Bearer wrong-token" }, { authorization: secret }] as Record<string, string>[]) {
    const response = await introspect(internal, { cookie }, headers);
    t.equal(response.statusCode, 401);
    t.equal(response.json().code, "INTERNAL_TOKEN_REQUIRED");
    t.notOk(response.body.includes(secret));
  }
  const allowed = await introspect(internal, { cookie }, { authorization: `Bearer ${secret}` });
  t.equal(allowed.statusCode, 200);
  t.equal(allowed.json().active, true);
});

t.test("the public port does not serve /internal", async (t) => {
  const { app } = await buildTestApp(t);
  const { cookie } = await signUp(app);
  const response = await app.inject({ method: "POST", url: "/internal/v1/introspect", payload: { cookie } });
  t.equal(response.statusCode, 404);
});

t.test("the session cookie name the directory reads is the one Better Auth writes", async (t) => {
  for (const url of ["http://localhost:4000", "https://auth.clinic.example"]) {
    const { app } = await buildTestApp(t, { env: { BETTER_AUTH_URL: url } });
    const response = await app.inject({
      method: "POST",
      url: "/api/auth/sign-up/email",
      payload: { name: "Cookie", email: uniqueEmail(), password: "a-long-secure-password" },
    });
    t.equal(cookieOf(response).split("=")[0], app.sessions.cookieName, url);
  }
});

t.test("a staff account: the forced password change shows, and removal by an admin ends it everywhere", async (t) => {
  const prefix = `test-staff-${Date.now().toString(36)}`;
  const { app: first } = await buildTestApp(t, { env: { REDIS_PREFIX: prefix } });
  const { app: second } = await buildTestApp(t, { env: { REDIS_PREFIX: prefix } });
  const internalFirst = await internalOf(t, first);
  const owner = await signUp(first);
  await createClinic(first, owner.cookie);
  const staff = await createStaff(first, owner.cookie, { role: "pharmacy" });
  const signedIn = await first.inject({
    method: "POST",
    url: "/api/auth/sign-in/username",
    payload: { username: staff.username, password: staff.password },
  });
  t.equal(signedIn.statusCode, 200);
  const cookie = cookieOf(signedIn);

  t.match((await introspect(internalFirst, { cookie })).json(), {
    active: true,
    user: { username: staff.username.toLowerCase(), mustChangePassword: true },
    clinic: { role: "pharmacy" },
  });

  const removal = await second.inject({ method: "DELETE", url: `/api/staff/${staff.userId}`, headers: { cookie: owner.cookie } });
  t.equal(removal.statusCode, 204);
  const after = await eventually(
    async () => (await introspect(internalFirst, { cookie })).json(),
    (body) => body.active === false,
  );
  t.same(after, { active: false }, "the disabled account's session is inactive on the other replica");
});
