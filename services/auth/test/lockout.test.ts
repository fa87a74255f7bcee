// Per-account brute-force protection: failed sign-ins counted per account (email and username
// together) across replicas and addresses; a lockout answered exactly like a wrong password; the
// owner emailed; a success, a completed reset or a clinic admin's lift clears it; escalation needs
// a fresh run of failures.
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import t from "tap";
import { buildReplicas, buildTestApp } from "@temetro/test-support/auth-app";
import {
  addMember,
  createClinic,
  createStaff,
  emailsTo,
  emailTo,
  PASSWORD,
  pathOf,
  signUp,
  uniqueEmail,
  uniqueUsername,
} from "@temetro/test-support/auth-requests";
import { waitUntil } from "@temetro/test-support/polling";
import { accountLockoutKey } from "../src/sign-in/lockout.js";

let address = 0;
/** A client address not used before in this file, so no address budget is shared by accident. */
const freshAddress = () => `198.18.${Math.floor(++address / 250)}.${(address % 250) + 1}`;

const signInAs = (app: FastifyInstance, email: string, password: string) =>
  app.inject({ method: "POST", url: "/api/auth/sign-in/email", payload: { email, password }, remoteAddress: freshAddress() });

async function failTimes(apps: FastifyInstance[], email: string, times: number) {
  for (let i = 0; i < times; i++) {
    const response = await signInAs(apps[i % apps.length]!, email, `wrong-password-${i}`);
    if (response.statusCode !== 401) throw new Error(`expected 401, got ${response.statusCode} ${response.body}`);
  }
}

/** What a client sees of a response, less what differs on every response (date, request id). */
function visible(response: LightMyRequestResponse) {
  const { date: _date, "x-request-id": _id, ...headers } = response.headers;
  return { status: response.statusCode, body: response.body, headers };
}

t.test("ten failures from many addresses on two replicas lock the account; the right password is then refused", async (t) => {
  const [a, b] = (await buildReplicas(t, 2)).map((replica) => replica.app) as [FastifyInstance, FastifyInstance];
  const { email } = await signUp(a);
  await failTimes([a, b], email, 9);
  t.equal((await signInAs(a, email, PASSWORD)).statusCode, 200, "nine failures do not lock");
  await failTimes([a, b], email, 10);

  const hashesBefore = b.passwordHasher.completed;
  const refused = await signInAs(b, email, PASSWORD);
  t.equal(refused.statusCode, 401);
  t.equal(refused.json().code, "INVALID_EMAIL_OR_PASSWORD");
  // One verification, as a wrong password costs: the time tells nothing.
  t.equal(b.passwordHasher.completed, hashesBefore + 1, "the refusal costs one verification, like a wrong password");
  t.equal((await signInAs(a, email.toUpperCase(), PASSWORD)).statusCode, 401, "the identifier is normalised");
});

t.test("the owner is emailed once when a lockout starts", async (t) => {
  const { app, logs } = await buildTestApp(t);
  const { email, name } = await signUp(app);
  await failTimes([app], email, 12);
  const locked = await emailTo(app, email, "account-locked");
  t.equal(locked.name, name);
  t.ok(Date.parse(locked.lockedUntil) > Date.now(), "lockedUntil lies ahead");
  t.equal(locked.url, "http://localhost:3000/forgot-password");
  const lockEvents = logs.lines.filter((line) => line.securityEvent === "account-locked");
  t.equal(lockEvents.length, 1, "the lockout is a security event");
  t.equal(lockEvents[0]!.lockedForSeconds, 60, "the first lockout lasts the base back-off");
  const refusals = logs.lines.filter((line) => line.securityEvent === "sign-in-refused-locked");
  t.equal(refusals.length, 2, "so is each attempt refused during it");
  t.notMatch(logs.text(), email, "the address itself is not logged");
  t.equal((await emailsTo(app, email)).filter((job) => job.kind === "account-locked").length, 1);
});

t.test("a locked account, a wrong password and an unknown account look the same from outside", async (t) => {
  const { app } = await buildTestApp(t);
  const locked = await signUp(app);
  const open = await signUp(app);
  await failTimes([app], locked.email, 10);

  const lockedRight = visible(await signInAs(app, locked.email, PASSWORD));
  const lockedWrong = visible(await signInAs(app, locked.email, "wrong-password-x"));
  const openWrong = visible(await signInAs(app, open.email, "wrong-password-x"));
  const unknown = visible(await signInAs(app, uniqueEmail("nobody"), "wrong-password-x"));
  t.equal(lockedRight.status, 401);
  t.same(lockedRight, openWrong, "locked with the right password = wrong password");
  t.same(lockedWrong, openWrong, "locked with a wrong password = wrong password");
  t.same(unknown, openWrong, "unknown account = wrong password");

  // An unknown identifier can be locked too, and then still looks like any other.
  const ghost = uniqueEmail("ghost");
  await failTimes([app], ghost, 10);
  t.same(visible(await signInAs(app, ghost, "wrong-password-y")), visible(await signInAs(app, open.email, "wrong-password-y")));
});

t.test("an unknown account costs a password hash, as a real one does", async (t) => {
  const { app } = await buildTestApp(t);
  const before = app.passwordHasher.completed;
  t.equal((await signInAs(app, uniqueEmail("nobody"), "wrong-password-z")).statusCode, 401);
  t.equal(app.passwordHasher.completed, before + 1);
});

t.test("username sign-in is counted and locked the same way", async (t) => {
  const { app } = await buildTestApp(t);
  const { username } = await signUp(app, { username: `desk${Date.now() % 100000}` });
  const attempt = (name: string, password: string) =>
    app.inject({ method: "POST", url: "/api/auth/sign-in/username", payload: { username: name, password }, remoteAddress: freshAddress() });
  for (let i = 0; i < 10; i++) t.equal((await attempt(username!, `wrong-${i}-password`)).statusCode, 401);
  const refused = await attempt(username!.toUpperCase(), PASSWORD);
  t.equal(refused.statusCode, 401);
  t.equal(refused.json().code, "INVALID_USERNAME_OR_PASSWORD");
});

t.test("a successful sign-in resets the count", async (t) => {
  const { app } = await buildTestApp(t);
  const { email } = await signUp(app);
  await failTimes([app], email, 9);
  t.equal((await signInAs(app, email, PASSWORD)).statusCode, 200);
  await failTimes([app], email, 9);
  t.equal((await signInAs(app, email, PASSWORD)).statusCode, 200, "nine more after the reset do not lock");
});

t.test("the back-off doubles with each lockout up to its cap, and each lockout needs a fresh run of failures", async (t) => {
  const { app } = await buildTestApp(t, { env: { LOCKOUT_THRESHOLD: "3", LOCKOUT_BASE_SECONDS: "60", LOCKOUT_MAX_SECONDS: "300" } });
  const outcomes = [];
  for (let i = 0; i < 15; i++) outcomes.push(await app.accountLockout.recordFailure("email:backoff@example.com"));
  t.same(
    outcomes.map((outcome) => outcome.lockedForMs / 1000),
    [0, 0, 60, 0, 0, 120, 0, 0, 240, 0, 0, 300, 0, 0, 300],
  );
  t.ok((await app.accountLockout.remainingLockMs("email:backoff@example.com")) > 240_000);
  await app.accountLockout.clear("email:backoff@example.com");
  t.equal(await app.accountLockout.remainingLockMs("email:backoff@example.com"), 0);
});

t.test("an owner or admin lifts the lockout of an account the clinic created; nobody else can", async (t) => {
  const { app, logs } = await buildTestApp(t);
  const owner = await signUp(app);
  const clinic = await createClinic(app, owner.cookie);
  const admin = await addMember(app, owner.cookie, clinic.id, "admin");
  const doctor = await addMember(app, owner.cookie, clinic.id, "doctor");
  // A staff account the clinic created and nobody has claimed: the clinic's to unlock. (An invited
  // member's own account is refused with ACCOUNT_CLAIMED: account-claim.test.ts.)
  const staffEmail = uniqueEmail();
  const staff = { ...(await createStaff(app, owner.cookie, { role: "reception", email: staffEmail })), email: staffEmail };
  const outsider = await signUp(app);

  await failTimes([app], staff.email, 10);
  t.equal((await signInAs(app, staff.email, PASSWORD)).statusCode, 401, "locked");

  const lift = (cookie: string, userId: string) =>
    app.inject({ method: "DELETE", url: `/api/staff/${userId}/lockout`, headers: { cookie } });

  const byDoctor = await lift(doctor.cookie, staff.userId);
  t.equal(byDoctor.statusCode, 403, "a doctor may not");
  t.equal(byDoctor.json().code, "FORBIDDEN");
  const notMember = await lift(owner.cookie, outsider.userId);
  t.equal(notMember.statusCode, 404, "someone outside the clinic is not found");
  t.equal(notMember.json().code, "NOT_FOUND");
  const badId = await lift(owner.cookie, "not%20an%20id");
  t.equal(badId.statusCode, 400);
  t.equal(badId.json().code, "VALIDATION_ERROR");

  const byAdmin = await lift(admin.cookie, staff.userId);
  t.equal(byAdmin.statusCode, 204);
  t.equal(byAdmin.body, "");
  t.equal((await signInAs(app, staff.email, PASSWORD)).statusCode, 200, "the member signs in again");
  t.ok(logs.lines.some((line) => line.securityEvent === "lockout-lifted" && line.by === admin.userId));

  await failTimes([app], staff.email, 10);
  t.equal((await lift(owner.cookie, staff.userId)).statusCode, 204, "an owner may too");
  t.equal((await signInAs(app, staff.email, PASSWORD)).statusCode, 200);
});

/** Waits (polling, no fixed sleep) until the account's lockout has run out. */
const lockoutExpired = (app: FastifyInstance, userId: string) =>
  waitUntil(async () => (await app.accountLockout.remainingLockMs(accountLockoutKey(userId))) === 0, "the lockout to expire");

t.test("one wrong password right after a lockout expires does not lock the account again", async (t) => {
  const [a, b] = (await buildReplicas(t, 2, { env: { LOCKOUT_THRESHOLD: "3", LOCKOUT_BASE_SECONDS: "1" } })).map((replica) => replica.app) as [
    FastifyInstance,
    FastifyInstance,
  ];
  const { email, userId } = await signUp(a);
  await failTimes([a, b], email, 3);
  t.equal((await signInAs(b, email, PASSWORD)).statusCode, 401, "locked");
  await lockoutExpired(a, userId);
  await failTimes([b], email, 2);
  t.equal((await signInAs(a, email, PASSWORD)).statusCode, 200, "two mistakes after the lockout, then the right password works");
});

t.test("after a lockout expires, a fresh run of failures locks again for twice as long", async (t) => {
  const { app, logs } = await buildTestApp(t, { env: { LOCKOUT_THRESHOLD: "3", LOCKOUT_BASE_SECONDS: "1" } });
  const { email, userId } = await signUp(app);
  const lockouts = () => logs.lines.filter((line) => line.securityEvent === "account-locked").map((line) => line.lockedForSeconds);
  await failTimes([app], email, 3);
  t.same(lockouts(), [1]);
  await lockoutExpired(app, userId);
  await failTimes([app], email, 2);
  t.same(lockouts(), [1], "two failures after it start no lockout");
  await failTimes([app], email, 1);
  t.same(lockouts(), [1, 2], "the third does, twice as long");
  t.equal((await signInAs(app, email, PASSWORD)).statusCode, 401, "locked");
});

t.test("completing a password reset lifts the lockout: the new password works at once", async (t) => {
  const [a, b] = (await buildReplicas(t, 2)).map((replica) => replica.app) as [FastifyInstance, FastifyInstance];
  const { email } = await signUp(a);
  await failTimes([a, b], email, 12);
  t.equal((await signInAs(a, email, PASSWORD)).statusCode, 401, "locked");

  const requested = await b.inject({
    method: "POST",
    url: "/api/auth/request-password-reset",
    payload: { email, redirectTo: "http://localhost:3000/reset-password" },
    remoteAddress: freshAddress(),
  });
  t.equal(requested.statusCode, 200);
  const link = (await emailTo(b, email, "reset-password")).url;
  const token = new URL(link).pathname.split("/").pop()!;
  t.ok(pathOf(link).startsWith("/api/auth/reset-password/"));
  const newPassword = "a-new-and-long-password";
  const reset = await a.inject({ method: "POST", url: "/api/auth/reset-password", payload: { token, newPassword }, remoteAddress: freshAddress() });
  t.equal(reset.statusCode, 200, reset.body);

  t.equal((await signInAs(b, email, newPassword)).statusCode, 200, "the new password signs in on the other replica");
  await failTimes([a], email, 9);
  t.equal((await signInAs(a, email, newPassword)).statusCode, 200, "the count started afresh too");
});

t.test("email and username sign-in count against one lockout of the account", async (t) => {
  const [a, b] = (await buildReplicas(t, 2)).map((replica) => replica.app) as [FastifyInstance, FastifyInstance];
  const { email, username } = await signUp(a, { username: uniqueUsername("desk") });
  const byUsername = (app: FastifyInstance, password: string) =>
    app.inject({ method: "POST", url: "/api/auth/sign-in/username", payload: { username, password }, remoteAddress: freshAddress() });
  for (let i = 0; i < 5; i++) t.equal((await byUsername(i % 2 ? a : b, `wrong-${i}-password`)).statusCode, 401);
  await failTimes([a, b], email, 5);

  t.equal((await signInAs(a, email, PASSWORD)).statusCode, 401, "five by username and five by email lock the email");
  const refused = await byUsername(b, PASSWORD);
  t.equal(refused.statusCode, 401, "and the username");
  t.equal(refused.json().code, "INVALID_USERNAME_OR_PASSWORD");
});

t.test("an unknown email is locked after as many failures as a real one", async (t) => {
  const { app, logs } = await buildTestApp(t);
  const ghost = uniqueEmail("ghost");
  await failTimes([app], ghost, 9);
  t.equal(logs.lines.filter((line) => line.securityEvent === "account-locked").length, 0, "nine do not lock it");
  await failTimes([app], ghost, 1);
  t.equal(logs.lines.filter((line) => line.securityEvent === "account-locked").length, 1, "the tenth does");
  const before = app.passwordHasher.completed;
  await failTimes([app], ghost, 1);
  t.equal(app.passwordHasher.completed, before + 1, "a refusal while locked costs one verification, as for a real account");
});
