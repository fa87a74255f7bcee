// The bound on password hashes running at once: past it, sign-in answers 503 with Retry-After at
// once instead of queueing without limit.
import { isAPIError } from "better-auth/api";
import t from "tap";
import { createPasswordHasher, hashPassword } from "../src/sign-in/password-hasher.js";
import { buildTestApp } from "@temetro/test-support/auth-app";
import { createClinic, PASSWORD, signUp, uniqueUsername } from "@temetro/test-support/auth-requests";

t.test("past the bound a hash is refused at once, and the slots free again", async (t) => {
  const hasher = createPasswordHasher(2);
  const hash = await hashPassword(PASSWORD);
  // Five verifications started together: two run, three are refused without waiting.
  const outcomes = await Promise.allSettled(Array.from({ length: 5 }, () => hasher.verify({ hash, password: PASSWORD })));
  t.same(
    outcomes.map((outcome) => outcome.status),
    ["fulfilled", "fulfilled", "rejected", "rejected", "rejected"],
  );
  const refusal = (outcomes[2] as PromiseRejectedResult).reason;
  t.ok(isAPIError(refusal));
  t.equal(refusal.statusCode, 503);
  t.same(refusal.headers, { "Retry-After": "1" });
  t.equal(refusal.body.code, "SERVICE_UNAVAILABLE");
  t.equal(hasher.refused, 3);
  t.equal(hasher.running, 0);
  t.equal(hasher.completed, 2);
  t.equal(await hasher.verify({ hash, password: PASSWORD }), true, "a later verification runs");
});

t.test("a burst of sign-ins past the bound gets 503 with Retry-After; none waits without limit", async (t) => {
  const { app } = await buildTestApp(t, { env: { PASSWORD_HASH_CONCURRENCY: "1" } });
  const { email } = await signUp(app);
  const responses = await Promise.all(
    Array.from({ length: 30 }, (_, i) =>
      app.inject({
        method: "POST",
        url: "/api/auth/sign-in/email",
        payload: { email, password: PASSWORD },
        remoteAddress: `198.19.0.${i + 1}`,
      }),
    ),
  );
  const busy = responses.filter((response) => response.statusCode === 503);
  const signedIn = responses.filter((response) => response.statusCode === 200);
  t.equal(busy.length + signedIn.length, 30, "every request is answered: signed in or told to retry");
  t.ok(signedIn.length >= 1, `${signedIn.length} signed in`);
  t.ok(busy.length >= 1, `${busy.length} told to retry`);
  for (const response of busy) {
    t.equal(response.headers["retry-after"], "1");
    t.same(response.json(), {
      error: "Too many sign-ins are being checked right now; retry shortly",
      code: "SERVICE_UNAVAILABLE",
      message: "Too many sign-ins are being checked right now; retry shortly",
    });
  }
  t.equal(app.passwordHasher.refused, busy.length);
  t.equal(app.passwordHasher.running, 0);
});

t.test("every spelling of a hashing route is admitted as one (dot segments, slashes, encoding)", async (t) => {
  // The admission sees the canonical path (request-path.ts): with the one slot taken, each spelling
  // of a route that hashes is refused on arrival, and nothing else is.
  const { app } = await buildTestApp(t, { env: { PASSWORD_HASH_CONCURRENCY: "1" } });
  let release!: () => void;
  const held = app.passwordHasher.admit(() => new Promise<void>((resolve) => (release = resolve)));
  t.teardown(() => release?.());
  for (const url of [
    "/api/auth/sign-in/email",
    "/api/auth/./sign-in/email",
    "/api/auth/%2e/sign-up/email",
    "/api/auth/x/../sign-in/username",
    "/api//auth//reset-password/",
    "/api/auth/change-password?x=1",
    "/api/auth/sign-in\\email",
    "/api/auth/%73ign-in/email",
  ]) {
    const response = await app.inject({ method: "POST", url, payload: {} });
    t.equal(response.statusCode, 503, url);
    t.equal(response.headers["retry-after"], "1", url);
  }
  for (const [method, url] of [
    ["GET", "/api/auth/sign-in/email"],
    ["POST", "/api/auth/forget-password"],
    ["POST", "/api/auth/reset-password/some-token"],
    ["POST", "/api/auth/SIGN-IN/email"],
  ] as const) {
    t.not((await app.inject({ method, url, payload: {} })).statusCode, 503, `${method} ${url} hashes nothing`);
  }
  release();
  await held;
});

t.test("staff passwords are hashed within the same bound: with every slot taken, 503 with Retry-After", async (t) => {
  const { app } = await buildTestApp(t, { env: { PASSWORD_HASH_CONCURRENCY: "1" } });
  const owner = await signUp(app);
  await createClinic(app, owner.cookie);
  let release!: () => void;
  const held = app.passwordHasher.admit(() => new Promise<void>((resolve) => (release = resolve)));
  t.teardown(() => release?.());
  const response = await app.inject({
    method: "POST",
    url: "/api/staff",
    headers: { cookie: owner.cookie },
    payload: { name: "Grace Okafor", username: uniqueUsername(), password: PASSWORD, role: "reception" },
  });
  release();
  await held;
  t.equal(response.statusCode, 503);
  t.equal(response.headers["retry-after"], "1");
  t.equal(response.json().code, "SERVICE_UNAVAILABLE");
  const later = await app.inject({
    method: "POST",
    url: "/api/staff",
    headers: { cookie: owner.cookie },
    payload: { name: "Grace Okafor", username: uniqueUsername(), password: PASSWORD, role: "reception" },
  });
  t.equal(later.statusCode, 201, "with the slot free again, the account is created");
});
