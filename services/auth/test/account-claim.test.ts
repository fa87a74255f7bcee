// Issue 12, point 1: a clinic's powers over an account it created (initial password, disabling by
// removal, lifting a lockout) end once the mailbox owner claims it or another clinic has it.
// The attack of the issue, played over real HTTP on two replicas, and the honest staff flow.
import type { FastifyInstance } from "fastify";
import t, { type Test } from "tap";
import { buildReplicas, buildTestApp } from "@temetro/test-support/auth-app";
import { cookieOf, createClinic, createStaff, emailTo, pathOf, PASSWORD, signIn, signInByUsername, signUp, uniqueEmail, verifyAddress } from "@temetro/test-support/auth-requests";

const VICTIM_PASSWORD = "the-victims-own-password";
const ATTACKER_PASSWORD = "the-attackers-new-password";

const api = (app: FastifyInstance, method: "GET" | "POST" | "DELETE", url: string, cookie: string, payload?: object) =>
  app.inject({ method, url, headers: { cookie }, ...(payload && { payload }) });

/** The owner of `email` resets the password through the emailed link, as the reset page does. */
async function resetThroughMailbox(app: FastifyInstance, email: string, newPassword: string) {
  const asked = await app.inject({ method: "POST", url: "/api/auth/request-password-reset", payload: { email } });
  if (asked.statusCode !== 200) throw new Error(`reset request failed: ${asked.body}`);
  const link = (await emailTo(app, email, "reset-password")).url;
  const token = new URL(link).pathname.split("/").pop()!;
  const done = await app.inject({ method: "POST", url: "/api/auth/reset-password", payload: { token, newPassword } });
  if (done.statusCode !== 200) throw new Error(`reset failed: ${done.body}`);
}

async function auditActions(app: FastifyInstance, cookie: string) {
  const page = await api(app, "GET", "/api/audit", cookie);
  return page.json().events as { action: string; targetUserId: string; detail: Record<string, unknown> }[];
}

/**
 * An attacker's clinic makes a staff account for the victim's address; the victim resets its
 * password through their mailbox and creates a clinic of their own (on the other replica).
 */
async function claimedByVictim(t: Test) {
  const [a, b] = (await buildReplicas(t, 2)).map((replica) => replica.app) as [FastifyInstance, FastifyInstance];
  const attacker = await signUp(a);
  const attackerClinic = await createClinic(a, attacker.cookie, "Attacker Clinic");
  const email = uniqueEmail("victim");
  const staff = await createStaff(a, attacker.cookie, { email, role: "doctor" });

  await resetThroughMailbox(b, email, VICTIM_PASSWORD);
  const victimSignIn = await signIn(b, email, VICTIM_PASSWORD);
  t.equal(victimSignIn.statusCode, 200, "the victim signs in with the password they chose");
  const victimCookie = cookieOf(victimSignIn);
  const victimClinic = await createClinic(b, victimCookie, "Victim Clinic");
  t.equal((await api(b, "GET", "/api/clinic", victimCookie)).statusCode, 200, "the victim works in their own clinic");
  return { a, b, attacker, attackerClinic, staff, email, victimCookie, victimClinic };
}

t.test("once its owner reset the password, the creating clinic can no longer set it, sign in with it or lift its lockout", async (t) => {
  const { a, b, attacker, staff, email, victimCookie } = await claimedByVictim(t);

  const setPassword = await api(a, "POST", `/api/staff/${staff.userId}/password`, attacker.cookie, { password: ATTACKER_PASSWORD });
  t.equal(setPassword.statusCode, 403);
  t.equal(setPassword.json().code, "ACCOUNT_CLAIMED");
  for (const password of [ATTACKER_PASSWORD, PASSWORD]) {
    t.equal((await signInByUsername(a, staff.username, password)).statusCode, 401, "neither the new nor the initial password signs in");
    t.equal((await signIn(b, email, password)).statusCode, 401);
  }

  const lift = await api(a, "DELETE", `/api/staff/${staff.userId}/lockout`, attacker.cookie);
  t.equal(lift.statusCode, 403);
  t.equal(lift.json().code, "ACCOUNT_CLAIMED");

  t.equal((await api(b, "GET", "/api/clinic", victimCookie)).statusCode, 200, "the victim's session goes on");
  t.equal((await signIn(a, email, VICTIM_PASSWORD)).statusCode, 200, "the victim's password still works");

  const events = await auditActions(a, attacker.cookie);
  t.match(
    events.filter((event) => event.action.endsWith("-refused")),
    [
      { action: "staff.lockout-lift-refused", targetUserId: staff.userId, detail: { code: "ACCOUNT_CLAIMED" } },
      { action: "staff.password-set-refused", targetUserId: staff.userId, detail: { code: "ACCOUNT_CLAIMED" } },
    ],
  );
  t.notOk(events.some((event) => event.action === "staff.password-set"), "no password was set");
});

t.test("removing a claimed account through /api only removes the membership: no disabling", async (t) => {
  const { a, b, attacker, staff, email, victimCookie, victimClinic } = await claimedByVictim(t);

  const removed = await api(a, "DELETE", `/api/staff/${staff.userId}`, attacker.cookie);
  t.equal(removed.statusCode, 204);
  const list = (await api(a, "GET", "/api/staff", attacker.cookie)).json().staff as { userId: string }[];
  t.notOk(list.some((member) => member.userId === staff.userId), "the member is gone from the clinic");

  t.equal((await api(b, "GET", "/api/clinic", victimCookie)).json().clinic.id, victimClinic.id, "the victim's session goes on");
  t.equal((await signIn(a, email, VICTIM_PASSWORD)).statusCode, 200, "the victim still signs in");
  const events = await auditActions(a, attacker.cookie);
  t.match(events.find((event) => event.action === "member.removed"), { detail: { disabled: false, accountClaimed: true } });
});

t.test("removing a claimed account through Better Auth's remove-member only removes the membership", async (t) => {
  const { a, b, attacker, attackerClinic, email, victimCookie } = await claimedByVictim(t);

  const removed = await api(a, "POST", "/api/auth/organization/remove-member", attacker.cookie, {
    memberIdOrEmail: email,
    organizationId: attackerClinic.id,
  });
  t.equal(removed.statusCode, 200);
  t.equal((await api(b, "GET", "/api/clinic", victimCookie)).statusCode, 200, "the victim's session goes on");
  t.equal((await signIn(b, email, VICTIM_PASSWORD)).statusCode, 200, "the victim still signs in");
  const events = await auditActions(a, attacker.cookie);
  t.match(events.find((event) => event.action === "member.removed"), { detail: { disabled: false, accountClaimed: true } });
});

t.test("following the verification link claims the account", async (t) => {
  const { app } = await buildTestApp(t);
  const owner = await signUp(app);
  await createClinic(app, owner.cookie);
  const email = uniqueEmail("verifies");
  const staff = await createStaff(app, owner.cookie, { email });

  const asked = await app.inject({ method: "POST", url: "/api/auth/send-verification-email", payload: { email } });
  t.equal(asked.statusCode, 200);
  const followed = await app.inject({ method: "GET", url: pathOf((await emailTo(app, email, "verify-email")).url) });
  t.equal(followed.statusCode, 302);

  const setPassword = await api(app, "POST", `/api/staff/${staff.userId}/password`, owner.cookie, { password: ATTACKER_PASSWORD });
  t.equal(setPassword.statusCode, 403);
  t.equal(setPassword.json().code, "ACCOUNT_CLAIMED");
});

t.test("an account another clinic also has is claimed: the creating clinic may not set its password or lift its lockout", async (t) => {
  const { app } = await buildTestApp(t);
  const creator = await signUp(app);
  await createClinic(app, creator.cookie, "First Clinic");
  const email = uniqueEmail("shared");
  const staff = await createStaff(app, creator.cookie, { email });

  // The staff member replaces the initial password and joins a second clinic by invitation.
  const staffCookie = cookieOf(await signInByUsername(app, staff.username));
  const changed = await api(app, "POST", "/api/auth/change-password", staffCookie, { currentPassword: PASSWORD, newPassword: VICTIM_PASSWORD });
  t.equal(changed.statusCode, 200);
  const other = await signUp(app);
  const otherClinic = await createClinic(app, other.cookie, "Second Clinic");
  t.equal((await api(app, "POST", "/api/auth/organization/invite-member", other.cookie, { email, role: "doctor", organizationId: otherClinic.id })).statusCode, 200);
  const invitationId = new URL((await emailTo(app, email, "invitation")).url).searchParams.get("invitationId");
  const memberCookie = cookieOf(await signIn(app, email, VICTIM_PASSWORD));
  // Accepting needs the invited address verified (issue 12, point 3).
  await verifyAddress(app, memberCookie);
  t.equal((await api(app, "POST", "/api/auth/organization/accept-invitation", memberCookie, { invitationId })).statusCode, 200);

  const setPassword = await api(app, "POST", `/api/staff/${staff.userId}/password`, creator.cookie, { password: ATTACKER_PASSWORD });
  t.equal(setPassword.json().code, "ACCOUNT_CLAIMED");
  t.equal((await api(app, "DELETE", `/api/staff/${staff.userId}/lockout`, creator.cookie)).json().code, "ACCOUNT_CLAIMED");
  t.equal((await api(app, "DELETE", `/api/staff/${staff.userId}`, creator.cookie)).statusCode, 204);
  t.equal((await signIn(app, email, VICTIM_PASSWORD)).statusCode, 200, "removal did not disable the account");
});

t.test("the honest staff flow: an unclaimed account's initial password is set again, its lockout lifted, and removal disables it", async (t) => {
  const [a, b] = (await buildReplicas(t, 2)).map((replica) => replica.app) as [FastifyInstance, FastifyInstance];
  const owner = await signUp(a);
  const clinic = await createClinic(a, owner.cookie);
  const withEmail = await createStaff(a, owner.cookie, { email: uniqueEmail("staff") });
  const withoutEmail = await createStaff(a, owner.cookie);

  for (const staff of [withEmail, withoutEmail]) {
    t.equal((await signInByUsername(b, staff.username)).statusCode, 200, "signs in by username");
    const set = await api(a, "POST", `/api/staff/${staff.userId}/password`, owner.cookie, { password: ATTACKER_PASSWORD });
    t.equal(set.statusCode, 200, "the admin sets a new initial password");
    t.equal((await signInByUsername(b, staff.username, ATTACKER_PASSWORD)).statusCode, 200);
    t.equal((await api(a, "DELETE", `/api/staff/${staff.userId}/lockout`, owner.cookie)).statusCode, 204, "the lockout is lifted");
  }

  t.equal((await api(a, "DELETE", `/api/staff/${withoutEmail.userId}`, owner.cookie)).statusCode, 204);
  const disabled = await signInByUsername(b, withoutEmail.username, ATTACKER_PASSWORD);
  t.equal(disabled.statusCode, 403);
  t.equal(disabled.json().code, "ACCOUNT_DISABLED");

  const removed = await api(a, "POST", "/api/auth/organization/remove-member", owner.cookie, { memberIdOrEmail: withEmail.email, organizationId: clinic.id });
  t.equal(removed.statusCode, 200);
  t.equal((await signInByUsername(b, withEmail.username, ATTACKER_PASSWORD)).json().code, "ACCOUNT_DISABLED", "Better Auth's route disables it too");
  const events = await auditActions(a, owner.cookie);
  t.equal(events.filter((event) => event.action === "member.removed" && event.detail.disabled === true).length, 2);
});

t.test("a reset ends the forced change of an admin-set password: the owner works at once", async (t) => {
  const { app } = await buildTestApp(t);
  const owner = await signUp(app);
  await createClinic(app, owner.cookie);
  const email = uniqueEmail("resets");
  await createStaff(app, owner.cookie, { email });
  await resetThroughMailbox(app, email, VICTIM_PASSWORD);
  const cookie = cookieOf(await signIn(app, email, VICTIM_PASSWORD));
  t.equal((await api(app, "GET", "/api/clinic", cookie)).statusCode, 200);
});

t.test("a reset and the clinic's password change racing on two replicas: the owner's password wins, every time", async (t) => {
  const [a, b] = (await buildReplicas(t, 2)).map((replica) => replica.app) as [FastifyInstance, FastifyInstance];
  const attacker = await signUp(a);
  await createClinic(a, attacker.cookie, "Attacker Clinic");
  const CLINIC_PASSWORD = "the-clinic-knows-this-one";
  for (let round = 0; round < 5; round++) {
    const email = uniqueEmail("race");
    const staff = await createStaff(a, attacker.cookie, { email, role: "doctor" });
    const asked = await b.inject({ method: "POST", url: "/api/auth/request-password-reset", payload: { email } });
    t.equal(asked.statusCode, 200);
    const token = new URL((await emailTo(b, email, "reset-password")).url).pathname.split("/").pop()!;

    // The owner completes the reset on B while the clinic sets a new password on A, at once.
    const [reset, set] = await Promise.all([
      b.inject({ method: "POST", url: "/api/auth/reset-password", payload: { token, newPassword: VICTIM_PASSWORD } }),
      api(a, "POST", `/api/staff/${staff.userId}/password`, attacker.cookie, { password: CLINIC_PASSWORD }),
    ]);
    t.equal(reset.statusCode, 200, `round ${round}: the owner's reset goes through`);
    t.ok([200, 403].includes(set.statusCode), `round ${round}: the clinic's change was before the claim or refused (${set.statusCode})`);
    t.equal((await signIn(a, email, CLINIC_PASSWORD)).statusCode, 401, `round ${round}: the clinic's password does not sign in`);
    t.equal((await signIn(b, email, VICTIM_PASSWORD)).statusCode, 200, `round ${round}: the owner's does`);
  }
});
