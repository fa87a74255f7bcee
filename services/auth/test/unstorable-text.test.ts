// A NUL or an unpaired surrogate anywhere in a request (path, query, body, on the public and the
// internal listener) is a 400 INVALID_TEXT, never a 500 from deep inside a query.
import t from "tap";
import { buildInternalApp } from "../src/internal-app.js";
import { buildTestApp } from "@temetro/test-support/auth-app";
import { createClinic, signUp } from "@temetro/test-support/auth-requests";

t.test("in a path parameter or a query parameter, on Better Auth's routes and ours", async (t) => {
  const { app } = await buildTestApp(t);
  const owner = await signUp(app);
  await createClinic(app, owner.cookie);
  const requests: [string, string, object?][] = [
    ["GET", "/api/auth/organization/get-full-organization?organizationId=%00"],
    ["GET", "/api/auth/organization/list-members?organizationId=%ED%A0%80"],
    ["GET", "/api/auth/get-session?disableCookieCache=%00"],
    ["DELETE", "/api/staff/%00"],
    ["PATCH", "/api/staff/a%00b", { role: "doctor" }],
    ["POST", "/api/staff/%00/password", { password: "a-long-secure-password" }],
    ["DELETE", "/api/staff/%00/lockout"],
    ["GET", "/api/audit?before=%00"],
  ];
  for (const [method, url, payload] of requests) {
    const response = await app.inject({ method: method as "GET", url, headers: { cookie: owner.cookie }, payload });
    t.equal(response.statusCode, 400, `${method} ${url}`);
    t.equal(response.json().code, "INVALID_TEXT", `${method} ${url}`);
  }
});

t.test("in a JSON body of our routes: reset-by-username, a staff account's fields", async (t) => {
  const { app } = await buildTestApp(t);
  const owner = await signUp(app);
  await createClinic(app, owner.cookie);
  for (const username of ["a\u0000b", "\ud800x"]) {
    const response = await app.inject({ method: "POST", url: "/api/auth-helpers/reset-by-username", payload: { username } });
    t.equal(response.statusCode, 400, JSON.stringify(username));
    t.equal(response.json().code, "INVALID_TEXT");
  }
  const staff = await app.inject({
    method: "POST",
    url: "/api/staff",
    headers: { cookie: owner.cookie },
    payload: { name: "Grace\u0000", username: "grace_nul", password: "a-long-secure-password", role: "reception" },
  });
  t.equal(staff.statusCode, 400);
  t.equal(staff.json().code, "INVALID_TEXT");
  const list = await app.inject({ method: "GET", url: "/api/staff", headers: { cookie: owner.cookie } });
  t.notOk(list.json().staff.some((member: { username: string }) => member.username === "grace_nul"), "nothing stored");
});

t.test("in a token given to introspection", async (t) => {
  const { app } = await buildTestApp(t);
  const internal = await buildInternalApp(app);
  t.teardown(() => internal.close());
  for (const payload of [{ cookie: "better-auth.session_token=a\u0000b" }, { token: "\udc00" }]) {
    const response = await internal.inject({
      method: "POST",
      url: "/internal/v1/introspect",
      payload,
      headers: { authorization: `Bearer ${app.config.internalToken}` },
    });
    t.equal(response.statusCode, 400, JSON.stringify(payload));
    t.equal(response.json().code, "INVALID_TEXT");
  }
});

t.test("valid percent-encoded text passes untouched", async (t) => {
  const { app } = await buildTestApp(t);
  const owner = await signUp(app);
  const response = await app.inject({
    method: "GET",
    url: "/api/auth/organization/get-full-organization?organizationSlug=caf%C3%A9",
    headers: { cookie: owner.cookie },
  });
  t.not(response.json().code, "INVALID_TEXT");
});
