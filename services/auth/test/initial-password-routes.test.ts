// While an admin-set initial password stands, Better Auth's routes serve only what it takes to
// replace it and to sign in and out: whoever knows the initial password (the admin who chose it)
// cannot act as the staff member through Better Auth's routes either.
import type { FastifyInstance } from "fastify";
import t from "tap";
import { buildTestApp } from "@temetro/test-support/auth-app";
import { cookieOf, createClinic, createStaff, emailTo, pathOf, PASSWORD, signInByUsername, signUp, uniqueEmail } from "@temetro/test-support/auth-requests";

const NEW_PASSWORD = "another-long-secure-password";

/** A clinic with an owner, a doctor, and a held-back admin (a staff account on its initial password). */
async function clinicWithHeldBackAdmin(app: FastifyInstance) {
  const owner = await signUp(app);
  const clinic = await createClinic(app, owner.cookie);
  const doctor = await createStaff(app, owner.cookie, { role: "doctor" });
  const admin = await createStaff(app, owner.cookie, { role: "admin" });
  const cookie = cookieOf(await signInByUsername(app, admin.username));
  return { owner, clinic, doctor, admin, cookie };
}

const changePassword = (app: FastifyInstance, cookie: string, newPassword: string) =>
  app.inject({ method: "POST", url: "/api/auth/change-password", headers: { cookie }, payload: { currentPassword: PASSWORD, newPassword } });

const memberIdOf = async (app: FastifyInstance, userId: string) =>
  (await app.pg.query<{ id: string }>(`SELECT "id" FROM "member" WHERE "userId" = $1`, [userId])).rows[0]!.id;

t.test("a held-back account is refused every acting route of Better Auth with 403 PASSWORD_CHANGE_REQUIRED", async (t) => {
  const { app } = await buildTestApp(t);
  const { clinic, doctor, admin, cookie } = await clinicWithHeldBackAdmin(app);
  const organizationId = clinic.id;
  const doctorMemberId = await memberIdOf(app, doctor.userId);
  const state = async () => ({
    members: (await app.pg.query(`SELECT "userId", "role" FROM "member" WHERE "organizationId" = $1 ORDER BY "id"`, [clinic.id])).rows,
    invitations: (await app.pg.query(`SELECT "id" FROM "invitation" WHERE "organizationId" = $1`, [clinic.id])).rows,
    clinic: (await app.pg.query(`SELECT "name" FROM "organization" WHERE "id" = $1`, [clinic.id])).rows,
    user: (await app.pg.query(`SELECT "name" FROM "user" WHERE "id" = $1`, [admin.userId])).rows,
  });
  const before = await state();

  const refused: [string, "GET" | "POST", string, object?][] = [
    ["organization: invite a member", "POST", "/api/auth/organization/invite-member", { email: uniqueEmail(), role: "admin", organizationId }],
    ["organization: change a role", "POST", "/api/auth/organization/update-member-role", { memberId: doctorMemberId, role: "admin", organizationId }],
    ["organization: remove a member", "POST", "/api/auth/organization/remove-member", { memberIdOrEmail: doctorMemberId, organizationId }],
    ["organization: update the clinic", "POST", "/api/auth/organization/update", { organizationId, data: { name: "Taken Over" } }],
    ["organization: create a clinic", "POST", "/api/auth/organization/create", { name: "Side Clinic", slug: `side-${doctor.userId.slice(0, 8)}` }],
    ["organization: list invitations", "GET", `/api/auth/organization/list-invitations?organizationId=${organizationId}`],
    ["organization: list members", "GET", "/api/auth/organization/list-members"],
    ["organization: list clinics", "GET", "/api/auth/organization/list"],
    ["user: update-user", "POST", "/api/auth/update-user", { name: "Someone Else" }],
    ["sessions: list-sessions", "GET", "/api/auth/list-sessions"],
    ["sessions: revoke-other-sessions", "POST", "/api/auth/revoke-other-sessions", {}],
    ["tokens: token", "GET", "/api/auth/token"],
  ];
  for (const [family, method, url, payload] of refused) {
    const response = await app.inject({ method, url, headers: { cookie }, ...(payload ? { payload } : {}) });
    t.equal(response.statusCode, 403, family);
    t.equal(response.json().code, "PASSWORD_CHANGE_REQUIRED", family);
  }
  t.same(await state(), before, "nothing changed");
});

t.test("a held-back account still signs in, asks who it is, changes its password and signs out", async (t) => {
  const { app } = await buildTestApp(t);
  const { clinic, admin, cookie } = await clinicWithHeldBackAdmin(app);

  const allowed: [string, string][] = [
    ["get-session", "/api/auth/get-session"],
    ["ok", "/api/auth/ok"],
    ["jwks", "/api/auth/jwks"],
  ];
  for (const [name, url] of allowed) {
    t.equal((await app.inject({ method: "GET", url, headers: { cookie } })).statusCode, 200, name);
  }
  const again = await app.inject({ method: "POST", url: "/api/auth/sign-in/username", headers: { cookie }, payload: { username: admin.username, password: PASSWORD } });
  t.equal(again.statusCode, 200, "signing in again from a browser that holds the session");

  const change = await changePassword(app, cookie, NEW_PASSWORD);
  t.equal(change.statusCode, 200, "change-password");
  const invite = await app.inject({
    method: "POST",
    url: "/api/auth/organization/invite-member",
    headers: { cookie },
    payload: { email: uniqueEmail(), role: "doctor", organizationId: clinic.id },
  });
  t.equal(invite.statusCode, 200, "once replaced, the organization routes answer");
  t.equal((await app.inject({ method: "POST", url: "/api/auth/sign-out", headers: { cookie }, payload: {} })).statusCode, 200, "sign-out");
});

t.test("sign-out works while the initial password stands", async (t) => {
  const { app } = await buildTestApp(t);
  const { cookie } = await clinicWithHeldBackAdmin(app);
  t.equal((await app.inject({ method: "POST", url: "/api/auth/sign-out", headers: { cookie }, payload: {} })).statusCode, 200);
  const session = await app.inject({ method: "GET", url: "/api/auth/get-session", headers: { cookie } });
  t.equal(session.json(), null, "the session ended");
});

t.test("a compatibility variant of the initial password (fullwidth letters) is no new password", async (t) => {
  const { app } = await buildTestApp(t);
  const { cookie } = await clinicWithHeldBackAdmin(app);
  // NFKC maps each fullwidth letter and hyphen to its ASCII form: the same password.
  const fullwidth = [...PASSWORD].map((c) => String.fromCodePoint(c.codePointAt(0)! + 0xfee0)).join("");
  t.not(fullwidth, PASSWORD);
  t.equal(fullwidth.normalize("NFKC"), PASSWORD);
  const change = await changePassword(app, cookie, fullwidth);
  t.equal(change.statusCode, 400);
  t.equal(change.json().code, "PASSWORD_UNCHANGED");
  const session = await app.inject({ method: "GET", url: "/api/auth/get-session", headers: { cookie } });
  t.equal(session.json().user.mustChangePassword, true, "still held back");
});

t.test("the mailbox's own reset link works in a browser that holds the held-back session", async (t) => {
  const { app } = await buildTestApp(t);
  const owner = await signUp(app);
  await createClinic(app, owner.cookie);
  const email = uniqueEmail("nurse");
  const staff = await createStaff(app, owner.cookie, { role: "doctor", email });
  const headers = { cookie: cookieOf(await signInByUsername(app, staff.username)) };

  const request = await app.inject({ method: "POST", url: "/api/auth/request-password-reset", headers, payload: { email } });
  t.equal(request.statusCode, 200, "request-password-reset");
  const follow = await app.inject({ method: "GET", url: pathOf((await emailTo(app, email, "reset-password")).url), headers });
  t.equal(follow.statusCode, 302, "the emailed link");
  const token = new URL(String(follow.headers.location)).searchParams.get("token");
  const reset = await app.inject({ method: "POST", url: "/api/auth/reset-password", headers, payload: { token, newPassword: NEW_PASSWORD } });
  t.equal(reset.statusCode, 200, "reset-password");
});
