// Bad input gets a 4xx JSON error with a stable code: never a 500, a hang or a crash.
import t from "tap";
import { BODY_LIMIT } from "../src/app.js";
import { buildTestApp } from "@temetro/test-support/auth-app";
import { createClinic, PASSWORD, signIn, signUp, uniqueEmail } from "@temetro/test-support/auth-requests";

const json = { "content-type": "application/json" };

t.test("malformed JSON is a 400 INVALID_JSON on every route", async (t) => {
  const { app } = await buildTestApp(t);
  const { cookie } = await signUp(app);
  for (const url of ["/api/auth/sign-in/email", "/api/auth/sign-up/email", "/api/auth/organization/create", "/api/auth/forget-password"]) {
    for (const payload of ['{"email": "a@b.co",', "{'single': 'quotes'}", "not json at all", '{"a":1}}']) {
      const response = await app.inject({ method: "POST", url, headers: { ...json, cookie }, payload });
      t.equal(response.statusCode, 400, `${url} ${payload}`);
      t.same(response.json(), { error: "Body is not valid JSON", code: "INVALID_JSON", message: "Body is not valid JSON" });
    }
  }
});

t.test("wrong types, missing fields and non-object bodies are a 400 naming the field", async (t) => {
  const { app } = await buildTestApp(t);
  const cases = [
    { payload: '{"email": 5, "password": []}', mentions: "body.email" },
    { payload: "{}", mentions: "body.email" },
    { payload: '{"email": "a@b.co"}', mentions: "body.password" },
    { payload: "[]", mentions: "expected object" },
    { payload: "null", mentions: "expected object" },
    { payload: '"text"', mentions: "expected object" },
  ];
  for (const { payload, mentions } of cases) {
    const response = await app.inject({ method: "POST", url: "/api/auth/sign-in/email", headers: json, payload });
    t.equal(response.statusCode, 400, payload);
    const body = response.json();
    t.equal(body.code, "VALIDATION_ERROR");
    t.match(body.error, mentions);
  }
  // Routes whose hooks read the body before validating it (Better Auth's username plugin): no 500.
  const cookie = (await signUp(app)).cookie;
  for (const url of ["/api/auth/sign-up/email", "/api/auth/update-user"]) {
    for (const payload of ["null", "[]", "7", "", '"text"']) {
      const response = await app.inject({ method: "POST", url, headers: { ...json, cookie }, payload });
      t.equal(response.statusCode, 400, `${url} ${JSON.stringify(payload)}`);
      t.equal(response.json().code, "VALIDATION_ERROR");
    }
    const noBodyAtAll = await app.inject({ method: "POST", url, headers: { cookie } });
    t.equal(noBodyAtAll.statusCode, 400, `${url} without a body or a content type`);
    t.equal(noBodyAtAll.json().code, "VALIDATION_ERROR");
  }
  const badEmail = await app.inject({
    method: "POST",
    url: "/api/auth/sign-in/email",
    headers: json,
    payload: '{"email": "not-an-email", "password": "a-long-secure-password"}',
  });
  t.equal(badEmail.statusCode, 400);
  t.same(badEmail.json(), { message: "Invalid email", code: "INVALID_EMAIL", error: "Invalid email" });
});

t.test("a body over the limit is a 413 BODY_TOO_LARGE", async (t) => {
  const { app } = await buildTestApp(t);
  const payload = JSON.stringify({ email: "a@b.co", password: "x".repeat(BODY_LIMIT) });
  const response = await app.inject({ method: "POST", url: "/api/auth/sign-in/email", headers: json, payload });
  t.equal(response.statusCode, 413);
  t.same(response.json(), { error: "Request body is too large", code: "BODY_TOO_LARGE", message: "Request body is too large" });
});

t.test("an unsupported or missing content type is a 415 UNSUPPORTED_MEDIA_TYPE", async (t) => {
  const { app } = await buildTestApp(t);
  for (const headers of [{ "content-type": "text/plain" }, {}]) {
    const response = await app.inject({ method: "POST", url: "/api/auth/sign-in/email", headers, payload: "hello" });
    t.equal(response.statusCode, 415);
    t.equal(response.json().code, "UNSUPPORTED_MEDIA_TYPE");
  }
});

t.test("form-encoded sign-in works like JSON", async (t) => {
  const { app } = await buildTestApp(t);
  const { email } = await signUp(app);
  const response = await app.inject({
    method: "POST",
    url: "/api/auth/sign-in/email",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    payload: new URLSearchParams({ email, password: PASSWORD }).toString(),
  });
  t.equal(response.statusCode, 200);
  t.match(response.json(), { user: { email } });
});

t.test("sign-out with an empty body, with or without a JSON content type, works", async (t) => {
  const { app } = await buildTestApp(t);
  for (const headers of [json, {}]) {
    const { cookie } = await signUp(app);
    const response = await app.inject({ method: "POST", url: "/api/auth/sign-out", headers: { ...headers, cookie } });
    t.equal(response.statusCode, 200);
    t.same(response.json(), { success: true });
  }
});

t.test("unknown routes are a 404 NOT_FOUND in JSON", async (t) => {
  const { app } = await buildTestApp(t);
  for (const [method, url] of [
    ["GET", "/api/nothing-here"],
    ["GET", "/api/auth/nothing-here"],
    ["DELETE", "/api/auth/sign-out"],
    ["GET", "/"],
  ] as const) {
    const response = await app.inject({ method, url });
    t.equal(response.statusCode, 404, `${method} ${url}`);
    t.equal(response.json().code, "NOT_FOUND");
    t.type(response.json().error, "string");
  }
});

t.test("unknown fields cannot set what the client must not choose", async (t) => {
  const { app } = await buildTestApp(t);
  const email = uniqueEmail();
  const response = await app.inject({
    method: "POST",
    url: "/api/auth/sign-up/email",
    payload: { name: "Sneaky", email, password: PASSWORD, emailVerified: true, role: "admin", id: "chosen-id", banned: false },
  });
  t.equal(response.statusCode, 200);
  const user = response.json().user;
  t.equal(user.emailVerified, false);
  t.not(user.id, "chosen-id");
  t.notOk("role" in user);
});

t.test("NUL characters and unpaired surrogates are a 400 INVALID_TEXT, nothing stored", async (t) => {
  const { app } = await buildTestApp(t);
  for (const name of ["a\u0000b", "\ud800", "x\udc00y"]) {
    const email = uniqueEmail();
    const response = await app.inject({
      method: "POST",
      url: "/api/auth/sign-up/email",
      headers: json,
      payload: JSON.stringify({ name, email, password: PASSWORD }),
    });
    t.equal(response.statusCode, 400, JSON.stringify(name));
    t.equal(response.json().code, "INVALID_TEXT");
    t.equal((await signIn(app, email)).statusCode, 401, "no account was created");
  }
  const form = await app.inject({
    method: "POST",
    url: "/api/auth/sign-in/email",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    payload: "email=a%40b.co&password=abc%00defghijklmnop",
  });
  t.equal(form.statusCode, 400);
  t.equal(form.json().code, "INVALID_TEXT");
});

t.test("odd but valid Unicode is kept as sent", async (t) => {
  const { app } = await buildTestApp(t);
  for (const name of ["د. أمينة يوسف", "Dr. 🩺 Zoë Ñúñez", "Ａｍｉｎａ", "e\u0301\u200d\u2066x\u2069"]) {
    const response = await app.inject({
      method: "POST",
      url: "/api/auth/sign-up/email",
      payload: { name, email: uniqueEmail(), password: PASSWORD },
    });
    t.equal(response.statusCode, 200, name);
    t.equal(response.json().user.name, name);
  }
});

t.test("a redirect to a foreign origin is refused", async (t) => {
  const { app } = await buildTestApp(t);
  const response = await app.inject({
    method: "POST",
    url: "/api/auth/forget-password",
    payload: { email: "someone@example.com", redirectTo: "https://evil.example/steal" },
  });
  t.equal(response.statusCode, 403);
  t.equal(response.json().code, "INVALID_REDIRECT_URL");
});

t.test("fields that name nothing to store are a 400, not a failed query", async (t) => {
  const { app } = await buildTestApp(t);
  const owner = await signUp(app);
  const clinic = await createClinic(app, owner.cookie);
  const post = (url: string, payload: object) => app.inject({ method: "POST", url, headers: { cookie: owner.cookie }, payload });

  const nullName = await post("/api/auth/update-user", { name: null });
  t.equal(nullName.statusCode, 400, "update-user with a null name");
  t.equal(nullName.json().code, "INVALID_NAME");

  // Better Auth drops the fields it does not know: each of these would have updated nothing.
  for (const data of [{}, { unknown: 1 }, { id: "chosen-id", createdAt: "2020-01-01" }]) {
    const update = await post("/api/auth/organization/update", { organizationId: clinic.id, data });
    t.equal(update.statusCode, 400, `organization/update ${JSON.stringify(data)}`);
    t.equal(update.json().code, "VALIDATION_ERROR");
    t.match(update.json().error, /no field/);
  }
  const renamed = await post("/api/auth/organization/update", { organizationId: clinic.id, data: { name: "Renamed Clinic" } });
  t.equal(renamed.statusCode, 200, "a field it knows is still changed");
  t.equal(renamed.json().id, clinic.id);
  t.equal(renamed.json().name, "Renamed Clinic");
});

t.test("an OPTIONS request that is no CORS preflight is a 400 BAD_REQUEST in JSON", async (t) => {
  const { app } = await buildTestApp(t);
  for (const headers of [{}, { origin: "http://localhost:3000" }, { "access-control-request-method": "POST" }]) {
    const response = await app.inject({ method: "OPTIONS", url: "/api/auth/sign-in/email", headers });
    t.equal(response.statusCode, 400, JSON.stringify(headers));
    t.equal(response.json().code, "BAD_REQUEST");
  }
});

t.test("JSON nested thousands deep is an ordinary 400, and a NUL deep inside is still found", async (t) => {
  const { app } = await buildTestApp(t);
  const { cookie } = await signUp(app);
  const depth = 20_000;
  for (const url of ["/api/auth/sign-in/email", "/api/auth/organization/has-permission", "/api/auth-helpers/reset-by-username"]) {
    const deep = await app.inject({ method: "POST", url, headers: { ...json, cookie }, payload: `{"x":${"[".repeat(depth)}${"]".repeat(depth)}}` });
    t.equal(deep.statusCode, 400, url);
    t.equal(deep.json().code, "VALIDATION_ERROR");
    const hidden = await app.inject({
      method: "POST",
      url,
      headers: { ...json, cookie },
      payload: `{"x":${"[".repeat(depth)}"a\\u0000b"${"]".repeat(depth)}}`,
    });
    t.equal(hidden.statusCode, 400, url);
    t.equal(hidden.json().code, "INVALID_TEXT");
  }
});
