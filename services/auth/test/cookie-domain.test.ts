// The web app on app.clinic.example and this service on auth.clinic.example share the session
// cookie through COOKIE_DOMAIN; a domain the service's host is not part of is refused at boot.
import t from "tap";
import { ConfigError } from "@temetro/shared";
import { loadConfig } from "../src/config.js";
import { buildTestApp } from "@temetro/test-support/auth-app";
import { PASSWORD, signUp } from "@temetro/test-support/auth-requests";

const secret = { BETTER_AUTH_SECRET: "x".repeat(32) };
const siblings = {
  BETTER_AUTH_URL: "https://auth.clinic.example",
  FRONTEND_URL: "https://app.clinic.example",
  COOKIE_DOMAIN: "clinic.example",
};

t.test("with COOKIE_DOMAIN, the session cookie of sign-in names the parent domain, and it works", async (t) => {
  const { app } = await buildTestApp(t, { env: siblings });
  const { email } = await signUp(app);
  const signIn = await app.inject({
    method: "POST",
    url: "/api/auth/sign-in/email",
    headers: { origin: "https://app.clinic.example" },
    payload: { email, password: PASSWORD },
  });
  t.equal(signIn.statusCode, 200);
  const setCookies = [signIn.headers["set-cookie"]].flat().filter((value): value is string => typeof value === "string");
  const session = setCookies.find((value) => /^__Secure-better-auth\.session_token=/.test(value));
  t.ok(session, "a session cookie is set");
  t.match(session, /;\s*Domain=clinic\.example(;|$)/i, "for the parent domain, so app.clinic.example sends it too");
  t.match(session, /;\s*Secure/i);
  t.match(session, /;\s*HttpOnly/i);
  t.match(session, /;\s*SameSite=Lax/i, "sibling subdomains are the same site: Lax suffices");

  const cookie = setCookies.map((value) => value.split(";")[0]).join("; ");
  const current = await app.inject({ method: "GET", url: "/api/auth/get-session", headers: { cookie, origin: "https://app.clinic.example" } });
  t.equal(current.json()?.user?.email, email, "the cookie signs the web app's requests in");
});

t.test("without COOKIE_DOMAIN the cookie stays with the service's own host", async (t) => {
  const { app } = await buildTestApp(t);
  const { email } = await signUp(app);
  const signIn = await app.inject({ method: "POST", url: "/api/auth/sign-in/email", payload: { email, password: PASSWORD } });
  t.equal(signIn.statusCode, 200);
  t.notMatch(String(signIn.headers["set-cookie"]), /Domain=/i);
});

t.test("COOKIE_DOMAIN is checked at boot, naming the variable", async (t) => {
  t.equal(loadConfig({ ...secret, ...siblings }).cookieDomain, "clinic.example");
  t.equal(loadConfig({ ...secret, ...siblings, COOKIE_DOMAIN: ".Clinic.Example" }).cookieDomain, "clinic.example", "a leading dot and case are forgiven");
  t.equal(loadConfig({ ...secret, ...siblings, COOKIE_DOMAIN: "auth.clinic.example" }).cookieDomain, "auth.clinic.example", "the host itself");
  t.equal(loadConfig(secret).cookieDomain, undefined);

  const cases = [
    { value: "other.example", reason: /COOKIE_DOMAIN: must be BETTER_AUTH_URL's host \(auth\.clinic\.example\) or a parent domain of it/ },
    { value: "linic.example", reason: /COOKIE_DOMAIN: must be BETTER_AUTH_URL's host/, why: "a suffix of the text, not of the domain" },
    { value: "https://clinic.example", reason: /COOKIE_DOMAIN: must be a domain name/ },
    { value: "clinic.example:443", reason: /COOKIE_DOMAIN: must be a domain name/ },
    { value: "example", reason: /COOKIE_DOMAIN: must be a domain name of two labels/ },
    { value: "10.0.0.5", reason: /COOKIE_DOMAIN: must be a domain name/ },
  ];
  for (const { value, reason, why } of cases) {
    const error = t.throws(() => loadConfig({ ...secret, ...siblings, COOKIE_DOMAIN: value }), why ?? value) as ConfigError;
    t.match(error.problems, [reason], value);
  }
});
