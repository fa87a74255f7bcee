// Email verification: not required by default; REQUIRE_EMAIL_VERIFICATION=true refuses unverified sign-in.
import t from "tap";
import { buildTestApp } from "@temetro/test-support/auth-app";
import { emailsTo, emailTo, PASSWORD, pathOf, signIn, uniqueEmail } from "@temetro/test-support/auth-requests";

t.test("by default an unverified address signs in", async (t) => {
  const { app } = await buildTestApp(t);
  const email = uniqueEmail();
  await app.inject({ method: "POST", url: "/api/auth/sign-up/email", payload: { name: "New User", email, password: PASSWORD } });
  const response = await signIn(app, email);
  t.equal(response.statusCode, 200);
  t.equal(response.json().user.emailVerified, false);
});

t.test("with REQUIRE_EMAIL_VERIFICATION=true an unverified address is refused until the link is followed", async (t) => {
  const { app } = await buildTestApp(t, { env: { REQUIRE_EMAIL_VERIFICATION: "true" } });
  const email = uniqueEmail();
  const signUp = await app.inject({
    method: "POST",
    url: "/api/auth/sign-up/email",
    payload: { name: "New User", email, password: PASSWORD },
  });
  t.equal(signUp.statusCode, 200);
  t.notOk(signUp.headers["set-cookie"], "no session before verification");

  const refused = await signIn(app, email);
  t.equal(refused.statusCode, 403);
  t.equal(refused.json().code, "EMAIL_NOT_VERIFIED");
  t.type(refused.json().error, "string");

  // Both the sign-up and the refused sign-in sent a verification link; the first one works.
  const [verification] = (await emailsTo(app, email)).filter((job) => job.kind === "verify-email");
  t.ok(verification);
  const follow = await app.inject({ method: "GET", url: pathOf((verification as { url: string }).url) });
  t.equal(follow.statusCode, 302);
  // No browser holds a session of the account (none is given before verification), so the link
  // cannot tell its follower chose the password: they choose one now (pre-hijacking.test.ts).
  const token = new URL(String(follow.headers.location)).searchParams.get("token");
  const newPassword = "chosen-after-verification";
  const reset = await app.inject({ method: "POST", url: "/api/auth/reset-password", payload: { token, newPassword } });
  t.equal(reset.statusCode, 200);

  const accepted = await signIn(app, email, newPassword);
  t.equal(accepted.statusCode, 200);
  t.equal(accepted.json().user.emailVerified, true);
});

t.test("a forged verification token is refused", async (t) => {
  const { app } = await buildTestApp(t);
  const response = await app.inject({ method: "GET", url: "/api/auth/verify-email?token=not-a-real-token" });
  t.equal(response.statusCode, 401);
  t.equal(response.json().code, "INVALID_TOKEN");
});

t.test("the verification email is queued once per sign-up", async (t) => {
  const { app } = await buildTestApp(t);
  const email = uniqueEmail();
  await app.inject({ method: "POST", url: "/api/auth/sign-up/email", payload: { name: "Once", email, password: PASSWORD } });
  const job = await emailTo(app, email, "verify-email");
  t.match(job, { kind: "verify-email", to: email, name: "Once" });
});
