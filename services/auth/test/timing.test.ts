// Timing tells nothing (issue 13, point 4): a locked account answers in the time a wrong password
// takes, and a reset request for a real account in the time one for an unknown address takes.
// Each comparison measures 200 interleaved pairs on two replicas (fixtures/timing.ts); it fails
// when the paired shift exceeds max(1 ms, 4 standard errors of its own noise). Before the fix the
// gaps were ~20 ms (sign-in: the locked path ran no hash) and 1.5–6 ms (reset: one committed
// insert more for a real account).
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import t, { type Test } from "tap";
import { buildReplicas } from "@temetro/test-support/auth-app";
import { PASSWORD, signUp, uniqueEmail, uniqueUsername } from "@temetro/test-support/auth-requests";
import { compareTimings, describeComparison } from "./fixtures/timing.js";

// 400 requests per comparison: well past the default on a loaded machine.
t.setTimeout(600_000);

const ROUNDS = 200;
const WARM_UP = 20;
const FLOOR_MS = 1;

function expectStatus(response: LightMyRequestResponse, status: number) {
  if (response.statusCode !== status) throw new Error(`expected ${status}, got ${response.statusCode} ${response.body}`);
}

const twoReplicas = async (t: Test, env: Record<string, string> = {}) =>
  (await buildReplicas(t, 2, { env })).map((replica) => replica.app) as [FastifyInstance, FastifyInstance];

t.test("a locked account's refusal takes as long as a wrong password's", async (t) => {
  // Locked for an hour: the lockout outlasts the measurement however slow the machine.
  const apps = await twoReplicas(t, { LOCKOUT_BASE_SECONDS: "3600" });
  const locked = await signUp(apps[0]);
  // Wrong passwords spread over accounts enough that none of them reaches the lockout threshold.
  const open: string[] = [];
  for (let i = 0; i < Math.ceil((ROUNDS + WARM_UP) / 8); i++) open.push((await signUp(apps[i % 2]!)).email);
  const signIn = async (app: FastifyInstance, email: string, password: string) =>
    expectStatus(await app.inject({ method: "POST", url: "/api/auth/sign-in/email", payload: { email, password } }), 401);
  for (let i = 0; i < 10; i++) await signIn(apps[i % 2]!, locked.email, `wrong-password-${i}`);

  const comparison = await compareTimings(
    { rounds: ROUNDS, warmUp: WARM_UP, floorMs: FLOOR_MS },
    (round) => signIn(apps[round % 2]!, locked.email, PASSWORD),
    (round) => signIn(apps[round % 2]!, open[round % open.length]!, `wrong-password-${round}`),
  );
  t.comment(describeComparison(comparison));
  t.ok(Math.abs(comparison.shiftMs) <= comparison.toleranceMs, `locked vs wrong password: ${describeComparison(comparison)}`);
});

t.test("a reset request for a real account takes as long as one for an unknown address, on every reset route", async (t) => {
  const apps = await twoReplicas(t);
  const accounts: { email: string; username: string }[] = [];
  for (let i = 0; i < 10; i++) {
    const { email, username } = await signUp(apps[i % 2]!, { username: uniqueUsername("desk") });
    accounts.push({ email, username: username! });
  }
  const redirectTo = "http://localhost:3000/reset-password";
  // The three ways to ask for a reset email, taken in turn: each pair compares one route with itself.
  const routes = [
    (app: FastifyInstance, who: { email: string; username: string }) =>
      app.inject({ method: "POST", url: "/api/auth/request-password-reset", payload: { email: who.email, redirectTo } }),
    (app: FastifyInstance, who: { email: string; username: string }) =>
      app.inject({ method: "POST", url: "/api/auth/forget-password", payload: { email: who.email, redirectTo } }),
    (app: FastifyInstance, who: { email: string; username: string }) =>
      app.inject({ method: "POST", url: "/api/auth-helpers/reset-by-username", payload: { username: who.username } }),
  ];
  const request = async (round: number, who: { email: string; username: string }) =>
    expectStatus(await routes[round % routes.length]!(apps[(round >> 1) % 2]!, who), 200);

  const comparison = await compareTimings(
    { rounds: ROUNDS, warmUp: WARM_UP, floorMs: FLOOR_MS },
    (round) => request(round, accounts[round % accounts.length]!),
    (round) => request(round, { email: uniqueEmail("nobody"), username: uniqueUsername("nobody") }),
  );
  t.comment(describeComparison(comparison));
  t.ok(Math.abs(comparison.shiftMs) <= comparison.toleranceMs, `known vs unknown reset: ${describeComparison(comparison)}`);
});

t.test("a reset request writes the same rows whether or not the account exists, on every reset route", async (t) => {
  const [a, b] = await twoReplicas(t);
  const known = await signUp(a, { username: uniqueUsername("desk") });
  const redirectTo = "http://localhost:3000/reset-password";
  const count = async (table: string) => Number((await a.pg.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);
  const written = async (send: () => Promise<LightMyRequestResponse>) => {
    const before = { verification: await count("verification"), outbox: await count("email_outbox") };
    expectStatus(await send(), 200);
    return { verification: (await count("verification")) - before.verification, outbox: (await count("email_outbox")) - before.outbox };
  };
  // The relay must not take outbox rows away while rows are counted.
  await a.emailOutbox.stop();
  await b.emailOutbox.stop();
  for (const [route, payload] of [
    ["/api/auth/request-password-reset", (email: string) => ({ email, redirectTo })],
    ["/api/auth/forget-password", (email: string) => ({ email, redirectTo })],
  ] as const) {
    const forKnown = await written(() => b.inject({ method: "POST", url: route, payload: payload(known.email) }));
    const forUnknown = await written(() => b.inject({ method: "POST", url: route, payload: payload(uniqueEmail("nobody")) }));
    t.same(forKnown, { verification: 1, outbox: 1 }, `${route}: a real account gets a link and an email`);
    t.same(forUnknown, forKnown, `${route}: an unknown address costs the same writes`);
  }
  const byUsername = (username: string) => b.inject({ method: "POST", url: "/api/auth-helpers/reset-by-username", payload: { username } });
  const forKnown = await written(() => byUsername(known.username!));
  t.same(forKnown, { verification: 1, outbox: 1 });
  t.same(await written(() => byUsername(uniqueUsername("nobody"))), forKnown, "reset-by-username: an unknown name costs the same writes");
});
