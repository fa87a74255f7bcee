// What Better Auth's client in the web app reads from a refusal: a `message` for its user beside
// the `code` (and `error`), and X-Retry-After wherever the service asks it to wait.
import t from "tap";
import type { Test } from "tap";
import type { FastifyInstance } from "fastify";
import { BODY_LIMIT } from "../src/app.js";
import { buildReplicas, buildTestApp, productionLimits } from "@temetro/test-support/auth-app";
import { createClinic, signIn, signUp, uniqueEmail, uniqueUsername } from "@temetro/test-support/auth-requests";

const json = { "content-type": "application/json" };

/** The body of every refusal: a non-empty message, the same as `error`, and the expected code. */
function assertErrorBody(t: Test, response: { statusCode: number; json(): unknown }, status: number, code: string) {
  t.equal(response.statusCode, status, code);
  const body = response.json() as { error?: unknown; code?: unknown; message?: unknown };
  t.equal(body.code, code);
  t.type(body.message, "string", `${code} has a message`);
  t.ok((body.message as string).length > 0, `${code}'s message is not empty`);
  t.equal(body.message, body.error, `${code}: message and error say the same`);
}

/** An answer asking the client to wait says so in both spellings, with the same seconds. */
function assertRetryAfter(t: Test, headers: Record<string, unknown>) {
  t.match(headers["retry-after"], /^\d+$/, "Retry-After in seconds");
  t.equal(headers["x-retry-after"], headers["retry-after"], "X-Retry-After, which Better Auth's client reads, says the same");
}

t.test("INVALID_JSON, INVALID_TEXT and BODY_TOO_LARGE carry a message, on Better Auth's routes and on /api", async (t) => {
  const { app } = await buildTestApp(t);
  const { cookie } = await signUp(app);
  await createClinic(app, cookie);
  for (const url of ["/api/auth/sign-in/email", "/api/staff"]) {
    const headers = { ...json, cookie };
    assertErrorBody(t, await app.inject({ method: "POST", url, headers, payload: '{"email": ' }), 400, "INVALID_JSON");
    assertErrorBody(t, await app.inject({ method: "POST", url, headers, payload: "" }), 400, url.startsWith("/api/auth") ? "VALIDATION_ERROR" : "INVALID_JSON");
    const nul = JSON.stringify({ name: "A\u0000B", username: uniqueUsername(), email: uniqueEmail(), password: "x" });
    assertErrorBody(t, await app.inject({ method: "POST", url, headers, payload: nul }), 400, "INVALID_TEXT");
    const large = JSON.stringify({ email: "a@b.co", password: "x".repeat(BODY_LIMIT) });
    assertErrorBody(t, await app.inject({ method: "POST", url, headers, payload: large }), 413, "BODY_TOO_LARGE");
  }
  assertErrorBody(t, await app.inject({ method: "GET", url: "/api/clinic%00" }), 400, "INVALID_TEXT");
  assertErrorBody(t, await app.inject({ method: "GET", url: "/api/no-such-route" }), 404, "NOT_FOUND");
  assertErrorBody(t, await app.inject({ method: "GET", url: "/api/clinic" }), 401, "UNAUTHENTICATED");
});

t.test("a rate-limited sign-in: 429 with a message, Retry-After and X-Retry-After, on either replica", async (t) => {
  const [a, b] = await buildReplicas(t, 2, { env: productionLimits });
  const attempt = (app: FastifyInstance) => signIn(app, uniqueEmail("guess"), "not-the-password");
  for (const app of [a!.app, b!.app, a!.app, b!.app, a!.app]) t.equal((await attempt(app)).statusCode, 401);
  const limited = await attempt(b!.app);
  assertErrorBody(t, limited, 429, "RATE_LIMITED");
  t.match(limited.json().message, /^Too many requests: retry in \d+ seconds$/);
  assertRetryAfter(t, limited.headers);
});

t.test("too many invitations: 429 with a message and X-Retry-After on invite-member and /api/staff", async (t) => {
  const [a, b] = await buildReplicas(t, 2, { env: { INVITATIONS_PER_HOUR: "1" } });
  const owner = await signUp(a!.app);
  const clinic = await createClinic(a!.app, owner.cookie);
  const invite = (app: FastifyInstance) =>
    app.inject({
      method: "POST",
      url: "/api/auth/organization/invite-member",
      headers: { cookie: owner.cookie },
      payload: { email: uniqueEmail("invitee"), role: "doctor", organizationId: clinic.id },
    });
  t.equal((await invite(a!.app)).statusCode, 200);
  const limited = await invite(b!.app);
  assertErrorBody(t, limited, 429, "RATE_LIMITED");
  assertRetryAfter(t, limited.headers);

  const staff = await a!.app.inject({
    method: "POST",
    url: "/api/staff",
    headers: { cookie: owner.cookie },
    payload: { name: "Grace Okafor", username: uniqueUsername(), password: "a-long-secure-password", role: "reception", email: uniqueEmail("staff") },
  });
  assertErrorBody(t, staff, 429, "RATE_LIMITED");
  assertRetryAfter(t, staff.headers);
});

t.test("PostgreSQL away: 503 with a message, Retry-After and X-Retry-After", async (t) => {
  const { app } = await buildTestApp(t, { env: { DATABASE_URL: "postgres://postgres@127.0.0.1:1/unreachable" } });
  const response = await signIn(app, "someone@example.com");
  assertErrorBody(t, response, 503, "SERVICE_UNAVAILABLE");
  assertRetryAfter(t, response.headers);
});

t.test("answers that ask nobody to wait carry no X-Retry-After", async (t) => {
  const { app } = await buildTestApp(t);
  const refused = await signIn(app, uniqueEmail("nobody"), "not-the-password");
  t.equal(refused.statusCode, 401);
  t.notOk(refused.headers["x-retry-after"]);
});
