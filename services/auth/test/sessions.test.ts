// Sessions: ended by sign-out and by a password reset; cookie attributes.
import t from "tap";
import { buildTestApp } from "@temetro/test-support/auth-app";
import { cookieOf, emailTo, pathOf, signIn, signUp } from "@temetro/test-support/auth-requests";

t.test("a password reset ends the user's other sessions", async (t) => {
  const { app } = await buildTestApp(t);
  const { email, cookie: first } = await signUp(app);
  const second = cookieOf(await signIn(app, email));

  await app.inject({ method: "POST", url: "/api/auth/forget-password", payload: { email } });
  const job = await emailTo(app, email, "reset-password");
  const token = new URL(String((await app.inject({ method: "GET", url: pathOf(job.url) })).headers.location)).searchParams.get("token");
  const reset = await app.inject({
    method: "POST",
    url: "/api/auth/reset-password",
    payload: { token, newPassword: "a-brand-new-long-password" },
  });
  t.equal(reset.statusCode, 200);

  for (const cookie of [first, second]) {
    const session = await app.inject({ method: "GET", url: "/api/auth/get-session", headers: { cookie } });
    t.equal(session.json(), null, "session ended");
    t.equal((await app.inject({ method: "GET", url: "/api/clinic", headers: { cookie } })).statusCode, 401);
  }
});

t.test("sign-out ends only that session", async (t) => {
  const { app } = await buildTestApp(t);
  const { email, cookie: first } = await signUp(app);
  const second = cookieOf(await signIn(app, email));
  t.equal((await app.inject({ method: "POST", url: "/api/auth/sign-out", headers: { cookie: first } })).statusCode, 200);
  t.equal((await app.inject({ method: "GET", url: "/api/auth/get-session", headers: { cookie: first } })).json(), null);
  t.match((await app.inject({ method: "GET", url: "/api/auth/get-session", headers: { cookie: second } })).json(), {
    user: { email },
  });
});

t.test("the session cookie is HttpOnly and SameSite=Lax, not Secure on http", async (t) => {
  const { app } = await buildTestApp(t);
  const response = await app.inject({
    method: "POST",
    url: "/api/auth/sign-up/email",
    payload: { name: "Cookie Test", email: `cookie-${Date.now()}@example.com`, password: "a-long-secure-password" },
  });
  const cookie = String(response.headers["set-cookie"]);
  t.match(cookie, /^better-auth\.session_token=/);
  t.match(cookie, /; HttpOnly/);
  t.match(cookie, /; SameSite=Lax/);
  t.notMatch(cookie, /; Secure/);
});

t.test("with an https BETTER_AUTH_URL the cookie is Secure with the __Secure- prefix", async (t) => {
  const { app } = await buildTestApp(t, { env: { BETTER_AUTH_URL: "https://auth.clinic.example" } });
  const response = await app.inject({
    method: "POST",
    url: "/api/auth/sign-up/email",
    payload: { name: "Cookie Test", email: `secure-${Date.now()}@example.com`, password: "a-long-secure-password" },
  });
  t.equal(response.statusCode, 200);
  const cookie = String(response.headers["set-cookie"]);
  t.match(cookie, /^__Secure-better-auth\.session_token=/);
  t.match(cookie, /; Secure/);
  t.match(cookie, /; HttpOnly/);
  t.match(cookie, /; SameSite=Lax/);
});
