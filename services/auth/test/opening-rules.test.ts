import t from "tap";
import { buildTestApp, newRedisPrefix, testConfig } from "@temetro/test-support/auth-app";
import {
  cookieOf,
  createClinic,
  createClinicUnverified,
  createStaff,
  emailTo,
  signInByUsername,
  signUp,
  uniqueEmail,
  verifyAddress,
  PASSWORD,
} from "@temetro/test-support/auth-requests";

// SIGN_UP and CLINIC_CREATION as a person meets them over HTTP. The owner who invites is set up on a
// replica with the default rules sharing the database and queue: how an install that closed its
// sign-ups later still has its first clinic (in production: `npm run create-owner`).

async function installWith(t: Parameters<typeof buildTestApp>[0], env: Record<string, string>) {
  const prefix = newRedisPrefix();
  const { app: setup } = await buildTestApp(t, { env: { REDIS_PREFIX: prefix } });
  const { app } = await buildTestApp(t, { env: { REDIS_PREFIX: prefix, ...env } });
  const owner = await signUp(setup);
  const clinic = await createClinic(setup, owner.cookie);
  return { app, setup, owner, clinic };
}

async function invite(app: Awaited<ReturnType<typeof installWith>>["setup"], cookie: string, clinicId: string, email: string) {
  const response = await app.inject({
    method: "POST",
    url: "/api/auth/organization/invite-member",
    headers: { cookie },
    payload: { email, role: "doctor", organizationId: clinicId },
  });
  if (response.statusCode !== 200) throw new Error(`invite failed: ${response.body}`);
}

const signUpRequest = (email: string) => ({ method: "POST" as const, url: "/api/auth/sign-up/email", payload: { name: "Dr. Kim Lee", email, password: PASSWORD } });

t.test("SIGN_UP=invite-only: an invited address signs up, joins with its invitation; any other is refused 403 SIGN_UP_INVITE_ONLY", async (t) => {
  const { app, setup, owner, clinic } = await installWith(t, { SIGN_UP: "invite-only" });
  const stranger = await app.inject(signUpRequest(uniqueEmail("stranger")));
  t.equal(stranger.statusCode, 403);
  t.match(stranger.json(), { code: "SIGN_UP_INVITE_ONLY", message: /invitation/ });

  const invited = uniqueEmail("invited");
  await invite(setup, owner.cookie, clinic.id, invited);
  const joined = await app.inject(signUpRequest(invited.toUpperCase()));
  t.equal(joined.statusCode, 200, "the invited address, however it is spelled");
  const cookie = cookieOf(joined);
  await verifyAddress(app, cookie);
  const invitationId = new URL((await emailTo(app, invited, "invitation")).url).searchParams.get("invitationId");
  const accepted = await app.inject({ method: "POST", url: "/api/auth/organization/accept-invitation", headers: { cookie }, payload: { invitationId } });
  t.equal(accepted.statusCode, 200, accepted.body);

  const again = await app.inject(signUpRequest(invited));
  t.not(again.statusCode, 200, "an invitation opens one account, not more");
});

t.test("SIGN_UP=invite-only: a cancelled invitation no longer lets the address sign up", async (t) => {
  const { app, setup, owner, clinic } = await installWith(t, { SIGN_UP: "invite-only" });
  const invited = uniqueEmail("cancelled");
  await invite(setup, owner.cookie, clinic.id, invited);
  const invitationId = new URL((await emailTo(setup, invited, "invitation")).url).searchParams.get("invitationId");
  const cancel = await setup.inject({ method: "POST", url: "/api/auth/organization/cancel-invitation", headers: { cookie: owner.cookie }, payload: { invitationId } });
  t.equal(cancel.statusCode, 200, cancel.body);
  const refused = await app.inject(signUpRequest(invited));
  t.equal(refused.statusCode, 403);
  t.equal(refused.json().code, "SIGN_UP_INVITE_ONLY");
});

t.test("SIGN_UP=closed: nobody signs up, invited or not, but a clinic admin still creates staff accounts", async (t) => {
  const { app, setup, owner, clinic } = await installWith(t, { SIGN_UP: "closed" });
  const invited = uniqueEmail("invited");
  await invite(setup, owner.cookie, clinic.id, invited);
  for (const email of [uniqueEmail("stranger"), invited]) {
    const refused = await app.inject(signUpRequest(email));
    t.equal(refused.statusCode, 403);
    t.match(refused.json(), { error: String, code: "SIGN_UP_CLOSED", message: /administrator/ });
  }
  const ownerActive = await app.inject({ method: "POST", url: "/api/auth/organization/set-active", headers: { cookie: owner.cookie }, payload: { organizationId: clinic.id } });
  t.equal(ownerActive.statusCode, 200);
  const staff = await createStaff(app, owner.cookie);
  t.equal((await signInByUsername(app, staff.username)).statusCode, 200, "the staff account signs in");
});

t.test("CLINIC_CREATION=none: nobody creates a clinic over HTTP (403 CLINIC_CREATION_CLOSED)", async (t) => {
  const { app } = await buildTestApp(t, { env: { CLINIC_CREATION: "none" } });
  const user = await signUp(app);
  await verifyAddress(app, user.cookie);
  const refused = await app.inject({ method: "POST", url: "/api/auth/organization/create", headers: { cookie: user.cookie }, payload: { name: "Mine", slug: "mine-clinic-x1" } });
  t.equal(refused.statusCode, 403);
  t.match(refused.json(), { code: "CLINIC_CREATION_CLOSED", message: String });
});

t.test("CLINIC_CREATION=verified: an unverified account is refused, the same account once verified creates its clinic", async (t) => {
  const { app } = await buildTestApp(t, { env: { CLINIC_CREATION: "verified" } });
  const user = await signUp(app);
  const refused = await app.inject({ method: "POST", url: "/api/auth/organization/create", headers: { cookie: user.cookie }, payload: { name: "Mine", slug: "mine-clinic-x2" } });
  t.equal(refused.statusCode, 403);
  t.equal(refused.json().code, "CLINIC_CREATION_CLOSED");
  const clinic = await createClinic(app, user.cookie, "Verified Clinic");
  t.equal(clinic.name, "Verified Clinic");
});

t.test("CLINIC_CREATION=anyone (the default): an unverified account creates a clinic", async (t) => {
  const { app, config } = await buildTestApp(t);
  t.equal(config.clinicCreation, "anyone");
  t.equal(config.signUp, "open");
  const user = await signUp(app);
  t.equal((await createClinicUnverified(app, user.cookie)).name, "Sunrise Clinic");
});

t.test("SIGN_UP and CLINIC_CREATION refuse unknown values, naming the variable", async (t) => {
  t.throws(() => testConfig({ SIGN_UP: "invite" }), { message: /SIGN_UP: must be open, invite-only or closed/ });
  t.throws(() => testConfig({ CLINIC_CREATION: "admins" }), { message: /CLINIC_CREATION: must be anyone, verified or none/ });
});
