// The audit log is complete: invitations canceled by a re-invite, and the refusals of the clinic
// boundaries a reviewer wants to see (an act while the initial password stands, a read of a foreign
// clinic). Where no clinic is concerned, a security log line says it instead. (A member leaving is
// audited as member.left: membership.test.ts.)
import type { FastifyInstance } from "fastify";
import t from "tap";
import { buildTestApp } from "@temetro/test-support/auth-app";
import { cookieOf, createClinic, createStaff, emailsTo, signInByUsername, signUp, uniqueEmail } from "@temetro/test-support/auth-requests";

type Event = { action: string; actorUserId: string | null; targetUserId: string | null; detail: Record<string, unknown> };

async function auditOf(app: FastifyInstance, ownerCookie: string): Promise<Event[]> {
  const response = await app.inject({ method: "GET", url: "/api/audit?limit=200", headers: { cookie: ownerCookie } });
  if (response.statusCode !== 200) throw new Error(`audit: ${response.statusCode} ${response.body}`);
  return response.json().events;
}

t.test("an invitation canceled by a re-invite is audited as canceled, by whoever re-invited", async (t) => {
  const { app } = await buildTestApp(t);
  const owner = await signUp(app);
  const clinic = await createClinic(app, owner.cookie);
  const email = uniqueEmail("invitee");
  const invite = (role: string) =>
    app.inject({ method: "POST", url: "/api/auth/organization/invite-member", headers: { cookie: owner.cookie }, payload: { email, role, organizationId: clinic.id } });
  const first = await invite("doctor");
  t.equal(first.statusCode, 200);
  const second = await invite("admin");
  t.equal(second.statusCode, 200);
  t.equal((await emailsTo(app, email)).length, 2, "two invitation emails");

  const canceled = (await auditOf(app, owner.cookie)).filter((event) => event.action === "invitation.canceled");
  t.match(canceled, [{ actorUserId: owner.userId, detail: { invitationRef: `${first.json().id.slice(0, 8)}…`, email, reason: "re-invited" } }]);
  t.equal(canceled.length, 1, "only the replaced invitation");
});

t.test("acts refused while the initial password stands are audited in the clinic; refused reads are not", async (t) => {
  const { app } = await buildTestApp(t);
  const owner = await signUp(app);
  const clinic = await createClinic(app, owner.cookie);
  const admin = await createStaff(app, owner.cookie, { role: "admin" });
  const cookie = cookieOf(await signInByUsername(app, admin.username));

  const acts = [
    await app.inject({ method: "POST", url: "/api/auth/organization/invite-member", headers: { cookie }, payload: { email: uniqueEmail(), role: "admin", organizationId: clinic.id } }),
    await app.inject({ method: "POST", url: "/api/staff", headers: { cookie }, payload: { name: "Ghost", username: "ghost_staff", password: "a-long-secure-password", role: "admin" } }),
  ];
  const reads = [
    await app.inject({ method: "GET", url: "/api/auth/organization/list-members", headers: { cookie } }),
    await app.inject({ method: "GET", url: "/api/clinic", headers: { cookie } }),
  ];
  for (const response of [...acts, ...reads]) t.equal(response.json().code, "PASSWORD_CHANGE_REQUIRED");

  const refused = (await auditOf(app, owner.cookie)).filter((event) => event.action === "access.refused");
  t.same(
    refused.map((event) => ({ actor: event.actorUserId, ...event.detail })).reverse(),
    [
      { actor: admin.userId, reason: "password-change-required", route: "POST /organization/invite-member" },
      { actor: admin.userId, reason: "password-change-required", route: "POST /api/staff" },
    ],
  );
});

t.test("a read of a foreign clinic is logged, never written into that clinic's audit log", async (t) => {
  const { app, logs } = await buildTestApp(t);
  const reader = await signUp(app);
  await createClinic(app, reader.cookie, "Own Clinic");
  const stranger = await signUp(app);
  const foreign = await createClinic(app, stranger.cookie, "Foreign Clinic");

  const read = (query: string) => app.inject({ method: "GET", url: `/api/auth/organization/get-full-organization?${query}`, headers: { cookie: reader.cookie } });
  t.equal((await read(`organizationId=${foreign.id}`)).statusCode, 403);
  // Any signed-in account could fill a clinic's audit log with rows of its own making.
  t.notOk(
    (await auditOf(app, stranger.cookie)).some((event: { action: string }) => event.action === "access.refused"),
    "no row in the foreign clinic's log",
  );
  const refusals = () => logs.lines.filter((entry) => entry.securityEvent === "access-refused");
  t.match(refusals(), [{ reason: "not-a-member", userId: reader.userId, clinicId: foreign.id, route: "GET /organization/get-full-organization" }]);

  t.equal((await read("organizationSlug=no-such-clinic")).statusCode, 403);
  t.match(refusals()[1], { reason: "not-a-member", userId: reader.userId, clinicId: null, route: "GET /organization/get-full-organization" });
});
