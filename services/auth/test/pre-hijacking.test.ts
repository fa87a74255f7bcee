// Pre-hijacking: an account made with someone else's address becomes the mailbox owner's when they
// follow the verification link; the password and sessions of whoever signed up stop working.
import t from "tap";
import type { FastifyInstance } from "fastify";
import { buildReplicas } from "@temetro/test-support/auth-app";
import { cookieOf, createClinicUnverified, emailTo, pathOf, PASSWORD, signIn, signUp, uniqueEmail } from "@temetro/test-support/auth-requests";
import { eventually } from "@temetro/test-support/polling";

const NEW_PASSWORD = "the-mailbox-owners-own-password";

const getSession = async (app: FastifyInstance, cookie: string) =>
  (await app.inject({ method: "GET", url: "/api/auth/get-session", headers: { cookie } })).json();

/**
 * Follows the verification link emailed by the replica that took the sign-up, on `app`, with the
 * given browser's cookie (or none).
 */
async function followVerificationLink(app: FastifyInstance, email: string, cookie?: string, mailedBy = app) {
  const link = (await emailTo(mailedBy, email, "verify-email")).url;
  return app.inject({ method: "GET", url: pathOf(link), headers: cookie ? { cookie } : {} });
}

/** Sets a password through the reset page the verification link led to. */
async function resetThroughRedirect(app: FastifyInstance, location: string, newPassword = NEW_PASSWORD) {
  const token = new URL(location).searchParams.get("token");
  return app.inject({ method: "POST", url: "/api/auth/reset-password", payload: { token, newPassword } });
}

t.test("an attacker who signed up with the victim's address loses his session and password when the victim verifies", async (t) => {
  const [attackerReplica, victimReplica] = await buildReplicas(t, 2);
  const a = attackerReplica!.app;
  const b = victimReplica!.app;
  const email = uniqueEmail("victim");
  const attacker = await signUp(a, { email, password: PASSWORD });
  await createClinicUnverified(a, attacker.cookie);
  t.equal((await a.inject({ method: "GET", url: "/api/clinic", headers: { cookie: attacker.cookie } })).statusCode, 200);

  // The victim, signed in nowhere, follows the link from the email on another replica.
  const followed = await followVerificationLink(b, email, undefined, a);
  t.equal(followed.statusCode, 302);
  const location = String(followed.headers.location);
  t.match(location, /^http:\/\/localhost:3000\/reset-password\?token=[^&]+&reason=verified-elsewhere$/, "the link leads to choosing a password");
  t.equal(cookieOf(followed), "", "the link signs nobody in");

  t.equal(await getSession(a, attacker.cookie), null, "the attacker's session is gone");
  const guarded = await eventually(
    () => a.inject({ method: "GET", url: "/api/clinic", headers: { cookie: attacker.cookie } }),
    (response) => response.statusCode === 401,
  );
  t.equal(guarded.statusCode, 401, "and the data endpoints refuse it, on his replica too");
  t.equal((await signIn(a, email, PASSWORD)).statusCode, 401, "the attacker's password no longer signs in");
  t.equal((await signIn(b, email, PASSWORD)).statusCode, 401);

  // The victim sets their own password and owns the (verified) account.
  t.equal((await resetThroughRedirect(b, location)).statusCode, 200);
  const own = await signIn(a, email, NEW_PASSWORD);
  t.equal(own.statusCode, 200);
  t.equal(own.json().user.emailVerified, true);
});

t.test("following the link again later neither signs in nor resets anything", async (t) => {
  const [replica] = await buildReplicas(t, 1);
  const app = replica!.app;
  const email = uniqueEmail();
  await signUp(app, { email });
  t.equal((await followVerificationLink(app, email)).statusCode, 302);
  const location = String((await followVerificationLink(app, email)).headers.location);
  t.equal(location, "http://localhost:3000/", "an already verified address just goes to the app");
});

t.test("signing up and following the link in the same browser keeps that session and the password", async (t) => {
  const [first, second] = await buildReplicas(t, 2);
  const a = first!.app;
  const b = second!.app;
  const user = await signUp(a);
  const otherBrowser = cookieOf(await signIn(a, user.email));

  const followed = await followVerificationLink(b, user.email, user.cookie, a);
  t.equal(followed.statusCode, 302);
  t.equal(followed.headers.location, "http://localhost:3000/");
  const session = await getSession(a, user.cookie);
  t.equal(session?.user.emailVerified, true, "the browser that signed up stays signed in, verified");
  t.equal(await getSession(a, otherBrowser), null, "sessions elsewhere from before verification end");
  t.equal((await signIn(b, user.email)).statusCode, 200, "the password chosen at sign-up still signs in");
});

t.test("following the link elsewhere (another device) leads to choosing a password, then signing in", async (t) => {
  const [first, second] = await buildReplicas(t, 2);
  const a = first!.app;
  const b = second!.app;
  const user = await signUp(a);
  const followed = await followVerificationLink(b, user.email, undefined, a);
  t.equal((await resetThroughRedirect(b, String(followed.headers.location))).statusCode, 200);
  t.equal((await signIn(a, user.email, NEW_PASSWORD)).statusCode, 200);
});

t.test("a browser signed in as another account does not keep the account being verified", async (t) => {
  const [replica] = await buildReplicas(t, 1);
  const app = replica!.app;
  const someoneElse = await signUp(app);
  const email = uniqueEmail("victim");
  await signUp(app, { email });
  const followed = await followVerificationLink(app, email, someoneElse.cookie);
  t.match(String(followed.headers.location), /reset-password\?token=/);
  t.equal((await signIn(app, email)).statusCode, 401);
  t.equal((await getSession(app, someoneElse.cookie))?.user.id, someoneElse.userId, "the other account's session is untouched");
});
