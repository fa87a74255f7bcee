// No password, token, session cookie or reset link in the logs or in error responses.
import { createHmac } from "node:crypto";
import t from "tap";
import { buildTestApp } from "@temetro/test-support/auth-app";
import { cookieOf, emailTo, PASSWORD, pathOf, signIn, signUp } from "@temetro/test-support/auth-requests";

t.test("a whole account lifecycle leaves no secret in the logs", async (t) => {
  const { app, logs } = await buildTestApp(t);
  const { email, cookie } = await signUp(app);
  const secondCookie = cookieOf(await signIn(app, email));
  await signIn(app, email, "a-wrong-password-attempt");
  await app.inject({ method: "GET", url: "/api/clinic", headers: { cookie, authorization: "Bearer secret-bearer-value" } });

  await app.inject({ method: "POST", url: "/api/auth/forget-password", payload: { email } });
  const resetLink = (await emailTo(app, email, "reset-password")).url;
  const verifyLink = (await emailTo(app, email, "verify-email")).url;
  const follow = await app.inject({ method: "GET", url: pathOf(resetLink) });
  const token = new URL(String(follow.headers.location)).searchParams.get("token")!;
  await app.inject({ method: "GET", url: pathOf(verifyLink) });
  const newPassword = "the-new-long-secret-password";
  await app.inject({ method: "POST", url: "/api/auth/reset-password", payload: { token, newPassword } });

  const text = logs.text();
  t.ok(logs.lines.length > 10, "the requests were logged");
  const secrets = {
    password: PASSWORD,
    wrongPassword: "a-wrong-password-attempt",
    newPassword,
    resetToken: token,
    verifyToken: new URL(verifyLink).searchParams.get("token")!,
    sessionCookie: cookie.split("=")[1]!,
    secondSessionCookie: secondCookie.split("=")[1]!,
    bearer: "secret-bearer-value",
  };
  for (const [name, secret] of Object.entries(secrets)) {
    t.notOk(text.includes(secret), `${name} is not in the logs`);
  }
  t.match(text, /"url":"\/api\/auth\/reset-password\/\[redacted\]\?callbackURL=http/, "the URL is logged, its token is not");
  t.match(text, /"url":"\/api\/auth\/verify-email\?token=\[redacted\]&callbackURL=http/);
});

t.test("error responses carry no secret", async (t) => {
  const { app } = await buildTestApp(t);
  const { email } = await signUp(app);
  const wrong = await signIn(app, email, "guessing-the-password-here");
  t.equal(wrong.statusCode, 401);
  t.notOk(wrong.body.includes("guessing-the-password-here"));
  t.notOk(wrong.body.includes("argon2"));
  t.same(Object.keys(wrong.json()).sort(), ["code", "error", "message"]);
});

t.test("PostgreSQL unreachable: a 503 SERVICE_UNAVAILABLE, no stack trace, no hang", async (t) => {
  const { app, config } = await buildTestApp(t, { env: { DATABASE_URL: "postgres://postgres@127.0.0.1:1/unreachable" } });
  const signInResponse = await signIn(app, "someone@example.com");
  t.equal(signInResponse.statusCode, 503);
  t.same(signInResponse.json(), { error: "Service temporarily unavailable", code: "SERVICE_UNAVAILABLE", message: "Service temporarily unavailable" });
  t.equal(signInResponse.headers["retry-after"], "5");

  // A correctly signed cookie, so the guard has to ask the database.
  const token = "some-session-token";
  const signature = createHmac("sha256", config.betterAuthSecret).update(token).digest("base64");
  const cookie = `better-auth.session_token=${encodeURIComponent(`${token}.${signature}`)}`;
  const guarded = await app.inject({ method: "GET", url: "/api/clinic", headers: { cookie } });
  t.equal(guarded.statusCode, 503);
  t.equal(guarded.json().code, "SERVICE_UNAVAILABLE");
});
