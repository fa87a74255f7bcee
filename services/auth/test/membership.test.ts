// Better Auth's organization routes under temetro's rules: the owner stays, roles are temetro's,
// invitations expire, work once and only for their address; and the audit log records it all.
import t from "tap";
import { buildTestApp } from "@temetro/test-support/auth-app";
import { addMember, cookieOf, createClinic, createStaff, emailTo, signIn, signUp, uniqueEmail, verifyAddress } from "@temetro/test-support/auth-requests";

async function invite(app: Awaited<ReturnType<typeof buildTestApp>>["app"], cookie: string, clinicId: string, role = "doctor") {
  const email = uniqueEmail("invitee");
  const response = await app.inject({
    method: "POST",
    url: "/api/auth/organization/invite-member",
    headers: { cookie },
    payload: { email, role, organizationId: clinicId },
  });
  if (response.statusCode !== 200) throw new Error(`invite failed: ${response.body}`);
  const invitationId = new URL((await emailTo(app, email, "invitation")).url).searchParams.get("invitationId")!;
  return { email, invitationId, response };
}

t.test("invite-member takes temetro's roles but never owner", async (t) => {
  const { app } = await buildTestApp(t);
  const owner = await signUp(app);
  const clinic = await createClinic(app, owner.cookie);
  for (const role of ["owner", "janitor", "admin,owner"]) {
    const response = await app.inject({
      method: "POST",
      url: "/api/auth/organization/invite-member",
      headers: { cookie: owner.cookie },
      payload: { email: uniqueEmail(), role, organizationId: clinic.id },
    });
    t.equal(response.statusCode, 400, role);
    t.equal(response.json().code, "ROLE_NOT_ASSIGNABLE", role);
  }
  const { response } = await invite(app, owner.cookie, clinic.id, "pharmacy");
  const expiresIn = new Date(response.json().expiresAt).getTime() - Date.now();
  t.ok(Math.abs(expiresIn - 7 * 24 * 3600 * 1000) < 60_000, "expires in 7 days");
});

t.test("the last owner can neither leave, be removed nor be demoted", async (t) => {
  const { app } = await buildTestApp(t);
  const owner = await signUp(app);
  const clinic = await createClinic(app, owner.cookie);
  const admin = await addMember(app, owner.cookie, clinic.id, "admin");

  const leave = await app.inject({ method: "POST", url: "/api/auth/organization/leave", headers: { cookie: owner.cookie }, payload: { organizationId: clinic.id } });
  t.equal(leave.statusCode, 400);
  t.equal(leave.json().code, "YOU_CANNOT_LEAVE_THE_ORGANIZATION_AS_THE_ONLY_OWNER");

  const ownerMember = await app.pg.query(`SELECT "id" FROM "member" WHERE "userId" = $1`, [owner.userId]);
  const memberId = ownerMember.rows[0].id as string;
  for (const cookie of [owner.cookie, admin.cookie]) {
    const demote = await app.inject({ method: "POST", url: "/api/auth/organization/update-member-role", headers: { cookie }, payload: { memberId, role: "admin", organizationId: clinic.id } });
    t.equal(demote.statusCode >= 400 && demote.statusCode < 500, true, `demotion refused (${demote.statusCode})`);
  }
  // As on DELETE /api/staff/:userId: 409 OWNER_ROLE_PROTECTED.
  const removeSelf = await app.inject({ method: "POST", url: "/api/auth/organization/remove-member", headers: { cookie: owner.cookie }, payload: { memberIdOrEmail: owner.email, organizationId: clinic.id } });
  t.equal(removeSelf.statusCode, 409);
  t.equal(removeSelf.json().code, "OWNER_ROLE_PROTECTED");
  const byAdmin = await app.inject({ method: "POST", url: "/api/auth/organization/remove-member", headers: { cookie: admin.cookie }, payload: { memberIdOrEmail: owner.email, organizationId: clinic.id } });
  t.equal(byAdmin.statusCode, 409);
  t.equal(byAdmin.json().code, "OWNER_ROLE_PROTECTED");

  // Nor can an owner make a second owner by role change: ownership only moves by transfer.
  const adminMember = await app.pg.query(`SELECT "id" FROM "member" WHERE "userId" = $1`, [admin.userId]);
  const promote = await app.inject({ method: "POST", url: "/api/auth/organization/update-member-role", headers: { cookie: owner.cookie }, payload: { memberId: adminMember.rows[0].id, role: "owner", organizationId: clinic.id } });
  t.equal(promote.statusCode, 400);
  t.equal(promote.json().code, "ROLE_NOT_ASSIGNABLE");

  const roles = await app.pg.query(`SELECT "role" FROM "member" WHERE "organizationId" = $1 ORDER BY "role"`, [clinic.id]);
  t.same(roles.rows.map((row) => row.role), ["admin", "owner"]);
});

t.test("an invitation works once, only for its address, and makes the clinic active", async (t) => {
  const { app } = await buildTestApp(t);
  const owner = await signUp(app);
  const clinic = await createClinic(app, owner.cookie);
  // The invitee already belongs to another clinic: accepting must switch to the new one.
  const { email, invitationId } = await invite(app, owner.cookie, clinic.id);
  const stranger = await signUp(app);
  const wrong = await app.inject({ method: "POST", url: "/api/auth/organization/accept-invitation", headers: { cookie: stranger.cookie }, payload: { invitationId } });
  t.equal(wrong.statusCode, 403);
  t.equal(wrong.json().code, "YOU_ARE_NOT_THE_RECIPIENT_OF_THE_INVITATION");

  const invitee = await signUp(app, { email });
  await createClinic(app, invitee.cookie, "Their Own Clinic");
  const accept = await app.inject({ method: "POST", url: "/api/auth/organization/accept-invitation", headers: { cookie: invitee.cookie }, payload: { invitationId } });
  t.equal(accept.statusCode, 200);
  const view = await app.inject({ method: "GET", url: "/api/clinic", headers: { cookie: invitee.cookie } });
  t.equal(view.json().clinic.id, clinic.id, "the inviting clinic is now active");
  t.equal(view.json().role, "doctor");

  const twice = await app.inject({ method: "POST", url: "/api/auth/organization/accept-invitation", headers: { cookie: invitee.cookie }, payload: { invitationId } });
  t.equal(twice.statusCode, 400);
  t.equal(twice.json().code, "INVITATION_NOT_FOUND");
});

t.test("an expired invitation cannot be accepted", async (t) => {
  const { app } = await buildTestApp(t);
  const owner = await signUp(app);
  const clinic = await createClinic(app, owner.cookie);
  const { email, invitationId } = await invite(app, owner.cookie, clinic.id);
  // Seven days pass.
  await app.pg.query(`UPDATE "invitation" SET "expiresAt" = now() - interval '1 second' WHERE "id" = $1`, [invitationId]);
  const invitee = await signUp(app, { email });
  const accept = await app.inject({ method: "POST", url: "/api/auth/organization/accept-invitation", headers: { cookie: invitee.cookie }, payload: { invitationId } });
  t.equal(accept.statusCode, 400);
  t.equal(accept.json().code, "INVITATION_NOT_FOUND");
  const view = await app.inject({ method: "GET", url: "/api/clinic", headers: { cookie: invitee.cookie } });
  t.equal(view.json().code, "NO_ACTIVE_CLINIC");
});

t.test("owners and admins list invitations; a canceled or rejected one cannot be accepted", async (t) => {
  const { app } = await buildTestApp(t);
  const owner = await signUp(app);
  const clinic = await createClinic(app, owner.cookie);
  const admin = await addMember(app, owner.cookie, clinic.id, "admin");
  const canceled = await invite(app, owner.cookie, clinic.id);
  const rejected = await invite(app, admin.cookie, clinic.id, "lab");

  const list = await app.inject({ method: "GET", url: `/api/auth/organization/list-invitations?organizationId=${clinic.id}`, headers: { cookie: admin.cookie } });
  t.equal(list.statusCode, 200);
  t.same(
    list.json().filter((inv: { status: string }) => inv.status === "pending").map((inv: { email: string }) => inv.email).sort(),
    [canceled.email, rejected.email].sort(),
  );

  const cancel = await app.inject({ method: "POST", url: "/api/auth/organization/cancel-invitation", headers: { cookie: admin.cookie }, payload: { invitationId: canceled.invitationId } });
  t.equal(cancel.statusCode, 200);
  const canceledUser = await signUp(app, { email: canceled.email });
  const late = await app.inject({ method: "POST", url: "/api/auth/organization/accept-invitation", headers: { cookie: canceledUser.cookie }, payload: { invitationId: canceled.invitationId } });
  t.equal(late.statusCode, 400);

  const rejecter = await signUp(app, { email: rejected.email });
  await verifyAddress(app, rejecter.cookie);
  const reject = await app.inject({ method: "POST", url: "/api/auth/organization/reject-invitation", headers: { cookie: rejecter.cookie }, payload: { invitationId: rejected.invitationId } });
  t.equal(reject.statusCode, 200);
  const afterReject = await app.inject({ method: "POST", url: "/api/auth/organization/accept-invitation", headers: { cookie: rejecter.cookie }, payload: { invitationId: rejected.invitationId } });
  t.equal(afterReject.statusCode, 400);
});

t.test("GET /api/audit pages through the clinic's security events, newest first, with actor, target and address", async (t) => {
  const { app } = await buildTestApp(t);
  const owner = await signUp(app);
  const clinic = await createClinic(app, owner.cookie);
  const doctor = await addMember(app, owner.cookie, clinic.id, "doctor");
  const staff = await createStaff(app, owner.cookie, { role: "reception" });
  await app.inject({ method: "PATCH", url: `/api/staff/${staff.userId}`, headers: { cookie: owner.cookie }, payload: { role: "lab" } });
  await app.inject({ method: "POST", url: `/api/staff/${staff.userId}/password`, headers: { cookie: owner.cookie }, payload: { password: "yet-another-long-password" } });
  await app.inject({ method: "DELETE", url: `/api/staff/${staff.userId}`, headers: { cookie: owner.cookie } });
  await app.inject({ method: "POST", url: "/api/clinic/transfer-ownership", headers: { cookie: owner.cookie }, payload: { userId: doctor.userId } });

  // Another clinic's events never show.
  const other = await signUp(app);
  const otherClinic = await createClinic(app, other.cookie);
  await addMember(app, other.cookie, otherClinic.id, "lab");

  const page = await app.inject({ method: "GET", url: "/api/audit", headers: { cookie: doctor.cookie } });
  t.equal(page.statusCode, 200);
  const events = page.json().events;
  t.same(events.map((event: { action: string }) => event.action), [
    "clinic.ownership-transferred",
    "member.removed",
    "staff.password-set",
    "member.role-changed",
    "staff.created",
    "invitation.accepted",
    "invitation.sent",
  ]);
  t.match(events[0], { actorUserId: owner.userId, targetUserId: doctor.userId, clientIp: "127.0.0.1", createdAt: String });
  t.match(events[3], { actorUserId: owner.userId, targetUserId: staff.userId, detail: { from: "reception", to: "lab" } });
  t.match(events[5], { actorUserId: doctor.userId, targetUserId: doctor.userId, clientIp: "127.0.0.1" });
  t.match(events[6], { actorUserId: owner.userId, detail: { email: doctor.email, role: "doctor" }, clientIp: "127.0.0.1" });
  t.equal(page.json().nextBefore, null);
  t.notMatch(page.body, "yet-another-long-password");

  const first = await app.inject({ method: "GET", url: "/api/audit?limit=3", headers: { cookie: doctor.cookie } });
  t.same(first.json().events.map((event: { id: string }) => event.id), events.slice(0, 3).map((event: { id: string }) => event.id));
  const second = await app.inject({ method: "GET", url: `/api/audit?limit=3&before=${first.json().nextBefore}`, headers: { cookie: doctor.cookie } });
  t.same(second.json().events.map((event: { id: string }) => event.id), events.slice(3, 6).map((event: { id: string }) => event.id));

  for (const query of ["limit=0", "limit=201", "before=abc", "sort=asc"]) {
    const bad = await app.inject({ method: "GET", url: `/api/audit?${query}`, headers: { cookie: doctor.cookie } });
    t.equal(bad.statusCode, 400, query);
    t.equal(bad.json().code, "VALIDATION_ERROR", query);
  }
});

t.test("a role change and a removal through Better Auth's routes are audited and end access too", async (t) => {
  const { app } = await buildTestApp(t);
  const owner = await signUp(app);
  const clinic = await createClinic(app, owner.cookie);
  const staff = await createStaff(app, owner.cookie, { role: "doctor" });
  const staffCookie = cookieOf(await app.inject({ method: "POST", url: "/api/auth/sign-in/username", payload: { username: staff.username, password: staff.password } }));
  const member = await app.pg.query(`SELECT "id" FROM "member" WHERE "userId" = $1`, [staff.userId]);
  const update = await app.inject({ method: "POST", url: "/api/auth/organization/update-member-role", headers: { cookie: owner.cookie }, payload: { memberId: member.rows[0].id, role: "lab", organizationId: clinic.id } });
  t.equal(update.statusCode, 200);
  const remove = await app.inject({ method: "POST", url: "/api/auth/organization/remove-member", headers: { cookie: owner.cookie }, payload: { memberIdOrEmail: member.rows[0].id, organizationId: clinic.id } });
  t.equal(remove.statusCode, 200);

  t.equal((await app.inject({ method: "GET", url: "/api/auth/get-session", headers: { cookie: staffCookie } })).json(), null, "sessions ended");
  const again = await app.inject({ method: "POST", url: "/api/auth/sign-in/username", payload: { username: staff.username, password: staff.password } });
  t.equal(again.json().code, "ACCOUNT_DISABLED");

  const audit = await app.inject({ method: "GET", url: "/api/audit?limit=2", headers: { cookie: owner.cookie } });
  t.match(audit.json().events, [
    { action: "member.removed", actorUserId: owner.userId, targetUserId: staff.userId, clientIp: "127.0.0.1" },
    { action: "member.role-changed", actorUserId: owner.userId, targetUserId: staff.userId, detail: { from: "doctor", to: "lab" } },
  ]);
  t.equal((await signIn(app, owner.email)).statusCode, 200);
});

t.test("leaving a clinic is audited and ends the leaver's other sessions in it; the leaving session stays signed in", async (t) => {
  const { app } = await buildTestApp(t);
  const owner = await signUp(app);
  const clinic = await createClinic(app, owner.cookie);
  const member = await addMember(app, owner.cookie, clinic.id, "doctor");
  const elsewhere = cookieOf(await signIn(app, member.email));
  t.equal((await app.inject({ method: "GET", url: "/api/clinic", headers: { cookie: elsewhere } })).statusCode, 200);

  const leave = await app.inject({ method: "POST", url: "/api/auth/organization/leave", headers: { cookie: member.cookie }, payload: { organizationId: clinic.id } });
  t.equal(leave.statusCode, 200);

  t.equal((await app.inject({ method: "GET", url: "/api/clinic", headers: { cookie: elsewhere } })).statusCode, 401, "the other session ended");
  const stays = await app.inject({ method: "GET", url: "/api/clinic", headers: { cookie: member.cookie } });
  t.equal(stays.json().code, "NO_ACTIVE_CLINIC", "the leaving session is signed in, in no clinic");
  const audit = await app.inject({ method: "GET", url: "/api/audit?limit=1", headers: { cookie: owner.cookie } });
  t.match(audit.json().events, [
    { action: "member.left", actorUserId: member.userId, targetUserId: member.userId, detail: { role: "doctor" }, clientIp: "127.0.0.1" },
  ]);
});
