// The web app on another origin, as its browser sees the API: a preflight for every route and
// method the service serves, the headers its scripts may read, nothing for an untrusted origin.
import type { FastifyInstance } from "fastify";
import t from "tap";
import { buildReplicas, buildTestApp, productionLimits } from "@temetro/test-support/auth-app";
import { signIn, signUp, uniqueEmail } from "@temetro/test-support/auth-requests";
import { publicRoutesOf, recordRoutesOfNewInstances } from "./fuzz/routes.js";

recordRoutesOfNewInstances();

/** FRONTEND_URL of the test configuration: the web app's origin, trusted. */
const WEB_APP = "http://localhost:3000";
const STRANGER = "https://evil.example";

const exposed = ["retry-after", "x-retry-after", "ratelimit-limit", "ratelimit-remaining", "ratelimit-reset", "x-request-id"];

/** A concrete URL for a route pattern: any value will do for a parameter or a wildcard. */
const urlOf = (pattern: string) => pattern.replace(/:[^/]+/g, "some-id").replace(/\*$/, "get-session");

const listOf = (header: unknown) =>
  String(header ?? "")
    .split(",")
    .map((item) => item.trim().toLowerCase())
    .filter(Boolean);

function preflight(app: FastifyInstance, origin: string, url: string, method: string) {
  return app.inject({
    method: "OPTIONS",
    url,
    headers: { origin, "access-control-request-method": method, "access-control-request-headers": "content-type,authorization" },
  });
}

t.test("a preflight from the web app for every route and method it may call is allowed, and cached", async (t) => {
  const { app } = await buildTestApp(t);
  const routes = publicRoutesOf(app).filter((route) => route.path !== "*" && !route.methods.every((method) => method === "OPTIONS"));
  const methods = new Set(routes.flatMap((route) => route.methods));
  t.ok(methods.has("PATCH") && methods.has("DELETE"), "the API has routes beyond GET and POST (so this test tests them)");
  t.ok(routes.length > 50, `${routes.length} routes found`);

  for (const route of routes) {
    for (const method of route.methods.filter((method) => method !== "OPTIONS")) {
      const url = urlOf(route.path);
      const response = await preflight(app, WEB_APP, url, method);
      const label = `${method} ${route.path}`;
      t.equal(response.statusCode, 204, label);
      t.equal(response.headers["access-control-allow-origin"], WEB_APP, `${label}: the web app's origin`);
      t.equal(response.headers["access-control-allow-credentials"], "true", `${label}: with its cookies`);
      t.ok(listOf(response.headers["access-control-allow-methods"]).includes(method.toLowerCase()), `${label}: ${method} allowed`);
      t.same(listOf(response.headers["access-control-allow-headers"]).filter((name) => name === "content-type" || name === "authorization").sort(), ["authorization", "content-type"], `${label}: its headers allowed`);
      t.equal(response.headers["access-control-max-age"], "600", `${label}: the browser may cache it`);
    }
  }
});

t.test("a preflight from an untrusted origin is not allowed", async (t) => {
  const { app } = await buildTestApp(t);
  for (const [method, url] of [["POST", "/api/auth/sign-in/email"], ["PATCH", "/api/staff/some-id"], ["DELETE", "/api/staff/some-id"], ["GET", "/api/auth/get-session"]] as const) {
    const response = await preflight(app, STRANGER, url, method);
    // Without Access-Control-Allow-Origin the browser refuses, whatever else the answer says.
    t.notOk(response.headers["access-control-allow-origin"], `${method} ${url}: no Access-Control-Allow-Origin`);
  }
  // Nor does an actual request from it get anything a browser would hand to a script.
  const signedIn = await app.inject({ method: "GET", url: "/api/auth/get-session", headers: { origin: STRANGER } });
  t.notOk(signedIn.headers["access-control-allow-origin"]);
});

t.test("actual cross-origin answers name the headers scripts may read, and a limited one carries them", async (t) => {
  const [a, b] = await buildReplicas(t, 2, { env: productionLimits });
  const { cookie } = await signUp(a!.app);
  const session = await b!.app.inject({ method: "GET", url: "/api/auth/get-session", headers: { origin: WEB_APP, cookie } });
  t.equal(session.statusCode, 200);
  t.equal(session.headers["access-control-allow-origin"], WEB_APP);
  t.equal(session.headers["access-control-allow-credentials"], "true");
  t.same(listOf(session.headers["access-control-expose-headers"]).sort(), [...exposed].sort(), "the expose list on a Better Auth route");

  const staff = await a!.app.inject({ method: "GET", url: "/api/staff", headers: { origin: WEB_APP, cookie } });
  t.same(listOf(staff.headers["access-control-expose-headers"]).sort(), [...exposed].sort(), "and on an /api route, refused or not");

  const email = uniqueEmail("guess");
  for (const app of [a!.app, b!.app, a!.app, b!.app, a!.app]) {
    t.equal((await signIn(app, email, "not-the-password")).statusCode, 401);
  }
  const limited = await b!.app.inject({
    method: "POST",
    url: "/api/auth/sign-in/email",
    headers: { origin: WEB_APP },
    payload: { email, password: "not-the-password" },
  });
  t.equal(limited.statusCode, 429);
  t.equal(limited.headers["access-control-allow-origin"], WEB_APP, "a refusal reaches the web app's script too");
  t.same(listOf(limited.headers["access-control-expose-headers"]).sort(), [...exposed].sort());
  for (const name of exposed) t.ok(limited.headers[name], `${name} is there to read`);
});
