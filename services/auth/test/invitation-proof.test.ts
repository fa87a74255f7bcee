// Invitations go to mailboxes: accepting one needs the invited address verified, never just the
// invitation's id; sending one (or a staff account's welcome) needs a verified sender and a budget.
import t from "tap";
import type { FastifyInstance } from "fastify";
import { buildReplicas, buildTestApp } from "@temetro/test-support/auth-app";
import { createClinic, createClinicUnverified, emailTo, signUp, uniqueEmail, uniqueUsername, verifyAddress } from "@temetro/test-support/auth-requests";

async function invite(app: FastifyInstance, cookie: string, clinicId: string, email = uniqueEmail("invitee")) {
  return app.inject({
    method: "POST",
    url: "/api/auth/organization/invite-member",
    headers: { cookie },
    payload: { email, role: "doctor", organizationId: clinicId },
  });
}

const accept = (app: FastifyInstance, cookie: string, invitationId: string | null) =>
  app.inject({ method: "POST", url: "/api/auth/organization/accept-invitation", headers: { cookie }, payload: { invitationId } });

const staffWithEmail = (app: FastifyInstance, cookie: string) =>
  app.inject({
    method: "POST",
    url: "/api/staff",
    headers: { cookie },
    payload: { name: "Grace Okafor", username: uniqueUsername(), password: "a-long-secure-password", role: "reception", email: uniqueEmail("staff") },
  });

t.test("an unverified account with the invited address cannot accept; once its owner verifies it, it can", async (t) => {
  const { app, logs } = await buildTestApp(t);
  const owner = await signUp(app);
  const clinic = await createClinic(app, owner.cookie);
  const email = uniqueEmail("invitee");
  t.equal((await invite(app, owner.cookie, clinic.id, email)).statusCode, 200);
  const invitationId = new URL((await emailTo(app, email, "invitation")).url).searchParams.get("invitationId");

  // Whoever signs up with the invited address and learns the id (lists, responses) is not its owner.
  const squatter = await signUp(app, { email });
  const refused = await accept(app, squatter.cookie, invitationId);
  t.equal(refused.statusCode, 403);
  t.equal(refused.json().code, "EMAIL_VERIFICATION_REQUIRED_BEFORE_ACCEPTING_OR_REJECTING_INVITATION");
  const peek = await app.inject({ method: "GET", url: `/api/auth/organization/get-invitation?id=${invitationId}`, headers: { cookie: squatter.cookie } });
  t.equal(peek.statusCode, 403, "nor read the invitation");
  const members = await app.pg.query(`SELECT 1 FROM "member" WHERE "organizationId" = $1 AND "userId" = $2`, [clinic.id, squatter.userId]);
  t.equal(members.rowCount, 0);

  await verifyAddress(app, squatter.cookie);
  t.equal((await accept(app, squatter.cookie, invitationId)).statusCode, 200, "the verified owner of the address accepts");

  t.notOk(logs.text().includes(invitationId!), "the invitation's id is in no log line");
  const audit = await app.inject({ method: "GET", url: "/api/audit", headers: { cookie: owner.cookie } });
  t.notOk(JSON.stringify(audit.json()).includes(invitationId!), "nor in full in the audit log");
  t.ok(JSON.stringify(audit.json()).includes(invitationId!.slice(0, 8)), "which names it by its start");
});

t.test("an unverified owner cannot invite nor create a staff account that gets an email; verified, they can", async (t) => {
  const { app } = await buildTestApp(t);
  const owner = await signUp(app);
  const clinicId = (await createClinicUnverified(app, owner.cookie)).id;

  const invitation = await invite(app, owner.cookie, clinicId);
  t.equal(invitation.statusCode, 403);
  t.equal(invitation.json().code, "EMAIL_NOT_VERIFIED");
  t.match(invitation.json().message, /Verify your email address/);
  const staff = await staffWithEmail(app, owner.cookie);
  t.equal(staff.statusCode, 403);
  t.same(staff.json(), { error: staff.json().error, code: "EMAIL_NOT_VERIFIED", message: staff.json().error });
  const rows = await app.pg.query(`SELECT 1 FROM "invitation" WHERE "organizationId" = $1`, [clinicId]);
  t.equal(rows.rowCount, 0, "no invitation was made");

  const noEmail = await app.inject({
    method: "POST",
    url: "/api/staff",
    headers: { cookie: owner.cookie },
    payload: { name: "No Mail", username: uniqueUsername(), password: "a-long-secure-password", role: "lab" },
  });
  t.equal(noEmail.statusCode, 201, "a staff account without an address emails nobody: allowed");

  await verifyAddress(app, owner.cookie);
  t.equal((await invite(app, owner.cookie, clinicId)).statusCode, 200);
  t.equal((await staffWithEmail(app, owner.cookie)).statusCode, 201);
});

t.test("invitations per clinic are limited across replicas, invite-member and /api/staff together", async (t) => {
  const [a, b] = await buildReplicas(t, 2, { env: { INVITATIONS_PER_HOUR: "3" } });
  const owner = await signUp(a!.app);
  const clinic = await createClinic(a!.app, owner.cookie);

  t.equal((await invite(a!.app, owner.cookie, clinic.id)).statusCode, 200);
  t.equal((await invite(b!.app, owner.cookie, clinic.id)).statusCode, 200);
  t.equal((await staffWithEmail(b!.app, owner.cookie)).statusCode, 201);

  const limited = await invite(a!.app, owner.cookie, clinic.id);
  t.equal(limited.statusCode, 429);
  t.equal(limited.json().code, "RATE_LIMITED");
  t.match(limited.headers["retry-after"], /^\d+$/);
  t.ok(Number(limited.headers["retry-after"]) <= 3600);
  const staff = await staffWithEmail(b!.app, owner.cookie);
  t.equal(staff.statusCode, 429);
  t.equal(staff.json().code, "RATE_LIMITED");
  t.match(staff.headers["retry-after"], /^\d+$/);

  const resend = await a!.app.inject({
    method: "POST",
    url: "/api/auth/organization/invite-member",
    headers: { cookie: owner.cookie },
    payload: { email: uniqueEmail(), role: "doctor", organizationId: clinic.id, resend: true },
  });
  t.equal(resend.statusCode, 429, "a resend is an email too");
});

t.test("one inviter is limited across clinics", async (t) => {
  const [a, b] = await buildReplicas(t, 2, { env: { INVITATIONS_PER_HOUR: "2" } });
  const owner = await signUp(a!.app);
  const first = await createClinic(a!.app, owner.cookie, "First");
  const second = await createClinic(a!.app, owner.cookie, "Second");
  t.equal((await invite(a!.app, owner.cookie, first.id)).statusCode, 200);
  t.equal((await invite(b!.app, owner.cookie, first.id)).statusCode, 200);
  const elsewhere = await invite(b!.app, owner.cookie, second.id);
  t.equal(elsewhere.statusCode, 429, "a fresh clinic does not reset the inviter's budget");

  // Someone who may not invite at all gets Better Auth's own refusal and spends nobody's budget.
  const stranger = await signUp(a!.app);
  await verifyAddress(a!.app, stranger.cookie);
  const notAllowed = await invite(a!.app, stranger.cookie, second.id);
  t.not(notAllowed.statusCode, 429);
});

t.test("a burst of invitations on two replicas at once gets exactly the hourly number through", async (t) => {
  const [a, b] = await buildReplicas(t, 2, { env: { INVITATIONS_PER_HOUR: "5" } });
  const owner = await signUp(a!.app);
  const clinic = await createClinic(a!.app, owner.cookie);
  const answers = await Promise.all(
    Array.from({ length: 30 }, (_, i) => invite((i % 2 === 0 ? a : b)!.app, owner.cookie, clinic.id)),
  );
  const statuses = answers.map((answer) => answer.statusCode);
  t.equal(statuses.filter((status) => status === 200).length, 5, "the limit holds under concurrency");
  t.equal(statuses.filter((status) => status === 429).length, 25, "every other answer is 429");
  const { rows } = await a!.app.pg.query<{ count: string }>(
    `SELECT count(*) FROM "invitation" WHERE "organizationId" = $1`,
    [clinic.id],
  );
  t.equal(Number(rows[0]!.count), 5, "no invitation past the limit was stored");
});
