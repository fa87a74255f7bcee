// Rate limits per client address, one count shared by every replica through Redis: 429 with
// { error, code }, Retry-After and RateLimit headers; TRUST_PROXY; IPv6 per /64.
import type { AddressInfo } from "node:net";
import { connect } from "node:net";
import type { FastifyInstance, InjectOptions } from "fastify";
import t from "tap";
import type { Test } from "tap";
import { buildReplicas, productionLimits } from "@temetro/test-support/auth-app";
import { PASSWORD, uniqueEmail } from "@temetro/test-support/auth-requests";

/** Two replicas of the service with the limits a deployment gets by default. */
async function twoReplicas(t: Test, env: Record<string, string> = {}) {
  const [a, b] = await buildReplicas(t, 2, { env: { ...productionLimits, ...env } });
  return [a!.app, b!.app] as const;
}

const signInFrom = (app: FastifyInstance, remoteAddress: string, extra: Partial<InjectOptions> = {}) =>
  app.inject({
    method: "POST",
    url: "/api/auth/sign-in/email",
    payload: { email: uniqueEmail("guess"), password: "not-the-password" },
    remoteAddress,
    ...extra,
  });

t.test("three sign-ins on each replica: the sixth, on either, gets 429 with Retry-After and RateLimit headers", async (t) => {
  const [a, b] = await twoReplicas(t);
  const client = "203.0.113.10";
  const statuses = [];
  for (const app of [a, b, a, b, a]) statuses.push((await signInFrom(app, client)).statusCode);
  t.same(statuses, [401, 401, 401, 401, 401], "five attempts reach the password check");

  const sixth = await signInFrom(b, client);
  t.equal(sixth.statusCode, 429);
  t.same(sixth.json(), { error: sixth.json().error, code: "RATE_LIMITED", message: sixth.json().error });
  t.match(sixth.json().error, /^Too many requests: retry in \d+ seconds$/);
  const retryAfter = Number(sixth.headers["retry-after"]);
  t.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter} is within the minute`);
  t.equal(sixth.headers["ratelimit-limit"], "5");
  t.equal(sixth.headers["ratelimit-remaining"], "0");
  t.equal(sixth.headers["ratelimit-reset"], String(retryAfter));

  t.equal((await signInFrom(a, client)).statusCode, 429, "and on the other replica too");
  t.equal((await signInFrom(a, "203.0.113.11")).statusCode, 401, "another address has its own budget");
});

t.test("a request under the limit says how many remain", async (t) => {
  const [a] = await twoReplicas(t);
  const first = await signInFrom(a, "203.0.113.12");
  t.equal(first.headers["ratelimit-limit"], "5");
  t.equal(first.headers["ratelimit-remaining"], "4");
  t.ok(Number(first.headers["ratelimit-reset"]) > 0);
  t.notOk(first.headers["retry-after"]);
});

t.test("email and username sign-in share one budget", async (t) => {
  const [a, b] = await twoReplicas(t);
  const client = "203.0.113.13";
  for (let i = 0; i < 3; i++) t.equal((await signInFrom(a, client)).statusCode, 401);
  for (let i = 0; i < 2; i++) {
    const response = await b.inject({
      method: "POST",
      url: "/api/auth/sign-in/username",
      payload: { username: "frontdesk1", password: "not-the-password" },
      remoteAddress: client,
    });
    t.equal(response.statusCode, 401);
  }
  const sixth = await a.inject({
    method: "POST",
    url: "/api/auth/sign-in/username",
    payload: { username: "frontdesk1", password: "not-the-password" },
    remoteAddress: client,
  });
  t.equal(sixth.statusCode, 429);
});

t.test("no spelling of the sign-in path escapes its budget", async (t) => {
  const [a] = await twoReplicas(t, { RATE_LIMIT_SIGN_IN: "10" });
  const client = "203.0.113.14";
  const spellings = [
    "/api/auth/sign-in/email/",
    "/api/auth//sign-in/email",
    // Routes are case-sensitive: `SIGN-IN` is another path, which nothing serves (canonical-request.test.ts).
    "/api/auth/sign-in/%2E/email",
    "/api/auth/sign-in/email?via=query",
    "/api/auth/sign-in/%65mail",
    // Dot segments and a backslash: the URL parser that hands the request to Better Auth resolves
    // them to its sign-in route, so they are the sign-in route.
    "/api/auth/./sign-in/email",
    "/api/auth/%2e/sign-in/email",
    "/api/auth/x/../sign-in/email",
    "/api/auth/sign-in/.%2E/sign-in/email",
    "/api/auth/sign-in\\email",
  ];
  t.equal(spellings.length, 10);
  for (const url of spellings) {
    const response = await a.inject({ method: "POST", url, payload: { email: uniqueEmail(), password: "x" }, remoteAddress: client });
    t.not(response.statusCode, 429, url);
  }
  t.equal((await signInFrom(a, client)).statusCode, 429, "each spelling counted against the sign-in budget");
});

t.test("dot-segment spellings of sign-up reach Better Auth counted against the sign-up budget", async (t) => {
  const [a] = await twoReplicas(t);
  const client = "203.0.113.15";
  const signUpAt = (url: string) =>
    a.inject({ method: "POST", url, payload: { name: "Dot", email: uniqueEmail("dot"), password: PASSWORD }, remoteAddress: client });
  const answers = [];
  for (const url of ["/api/auth/./sign-up/email", "/api/auth/x/../sign-up/email", "/api/auth/%2e/sign-up/email"]) {
    answers.push((await signUpAt(url)).statusCode);
  }
  t.same(answers, [200, 200, 200], "each spelling reaches Better Auth's sign-up (an account is created)");
  t.equal((await signUpAt("/api/auth/sign-up/email")).statusCode, 429, "the budget of 3 was spent by the spellings");
  t.equal((await signUpAt("/api/auth/.%2E/auth/sign-up/email")).statusCode, 429);
});

t.test("a request target that is not a path (absolute-form) is refused before any budget or route", async (t) => {
  const [a] = await twoReplicas(t);
  await a.listen({ host: "127.0.0.1", port: 0 });
  const { port } = a.server.address() as AddressInfo;
  const body = JSON.stringify({ email: uniqueEmail(), password: "not-the-password" });
  // fetch and inject always send origin-form; a raw socket sends what an attacker would.
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => {
      socket.end(
        `POST http://evil.example/api/auth/sign-in/email HTTP/1.1\r\nHost: evil.example\r\nContent-Type: application/json\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    });
    let text = "";
    socket.on("data", (chunk) => (text += chunk.toString()));
    socket.on("end", () => resolve(text));
    socket.on("error", reject);
  });
  t.match(answer, /^HTTP\/1\.1 400 /, "refused with 400");
  t.match(answer, /"code":"INVALID_REQUEST_TARGET"/);
  t.notMatch(answer, /ratelimit-limit/i, "not counted against any budget");
});

t.test("a browser's CORS preflight does not use up the sign-in budget", async (t) => {
  const [a] = await twoReplicas(t);
  const client = "203.0.113.15";
  for (let i = 0; i < 5; i++) {
    const preflight = await a.inject({
      method: "OPTIONS",
      url: "/api/auth/sign-in/email",
      headers: { origin: "http://localhost:3000", "access-control-request-method": "POST" },
      remoteAddress: client,
    });
    t.equal(preflight.statusCode, 204);
    t.notOk(preflight.headers["ratelimit-limit"], "answered by CORS before any budget is counted");
    t.equal((await signInFrom(a, client)).statusCode, 401, `sign-in ${i + 1} of 5`);
  }
  t.equal((await signInFrom(a, client)).statusCode, 429);
});

interface BudgetCase {
  name: string;
  limit: number;
  /** Requests that all count against the budget, cycled through. */
  requests: InjectOptions[];
}

const budgetCases: BudgetCase[] = [
  {
    name: "sign-up: 3",
    limit: 3,
    requests: [{ method: "POST", url: "/api/auth/sign-up/email", payload: { name: "N", email: "x", password: "short" } }],
  },
  {
    name: "password-reset requests (forget-password, request-password-reset, reset-by-username): 3 together",
    limit: 3,
    requests: [
      { method: "POST", url: "/api/auth/forget-password", payload: { email: "nobody@example.com" } },
      { method: "POST", url: "/api/auth/request-password-reset", payload: { email: "nobody@example.com" } },
      { method: "POST", url: "/api/auth-helpers/reset-by-username", payload: { username: "nobody" } },
    ],
  },
  {
    name: "verification-email resends: 3",
    limit: 3,
    requests: [{ method: "POST", url: "/api/auth/send-verification-email", payload: { email: "nobody@example.com" } }],
  },
  {
    name: "completing a reset (the emailed link and the new password): 10 together",
    limit: 10,
    requests: [
      { method: "GET", url: "/api/auth/reset-password/not-a-token" },
      { method: "POST", url: "/api/auth/reset-password", payload: { token: "not-a-token", newPassword: PASSWORD } },
    ],
  },
  {
    name: "the rest of /api: the general ceiling",
    limit: 4,
    requests: [
      { method: "GET", url: "/api/auth/get-session" },
      { method: "GET", url: "/api/clinic" },
      { method: "GET", url: "/api/no-such-route" },
    ],
  },
];

t.test("each route's budget", async (t) => {
  const [a, b] = await twoReplicas(t, { RATE_LIMIT_API: "4" });
  let host = 20;
  for (const { name, limit, requests } of budgetCases) {
    const remoteAddress = `203.0.113.${host++}`;
    const send = (i: number) => [a, b][i % 2]!.inject({ ...requests[i % requests.length]!, remoteAddress });
    for (let i = 0; i < limit; i++) t.not((await send(i)).statusCode, 429, `${name}: request ${i + 1}`);
    const over = await send(limit);
    t.equal(over.statusCode, 429, `${name}: request ${limit + 1} is refused`);
    t.equal(over.json().code, "RATE_LIMITED");
    t.equal(over.headers["ratelimit-limit"], String(limit), name);
  }
  // Budgets are separate: the spent ones above left sign-in untouched for the first address.
  t.equal((await signInFrom(a, "203.0.113.20")).statusCode, 401, "sign-in has its own budget");
});

t.test("the window frees after the Retry-After it announced", async (t) => {
  const [a, b] = await twoReplicas(t, { RATE_LIMIT_SIGN_IN: "1", RATE_LIMIT_WINDOW_SECONDS: "1" });
  const client = "203.0.113.40";
  t.equal((await signInFrom(a, client)).statusCode, 401);
  const refused = await signInFrom(b, client);
  t.equal(refused.statusCode, 429);
  const retryAfter = Number(refused.headers["retry-after"]);
  t.equal(retryAfter, 1);
  // Waiting what the header says is the behaviour under test: a client that honours it gets in.
  await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000));
  t.equal((await signInFrom(b, client)).statusCode, 401, "admitted again after Retry-After");
});

t.test("fifty parallel sign-ins from one address over two replicas: exactly five pass", async (t) => {
  const [a, b] = await twoReplicas(t);
  const client = "203.0.113.50";
  const responses = await Promise.all(Array.from({ length: 50 }, (_, i) => signInFrom(i % 2 ? a : b, client)));
  const statuses = responses.map((response) => response.statusCode);
  t.equal(statuses.filter((status) => status !== 429).length, 5);
  t.equal(statuses.filter((status) => status === 429).length, 45);
});

t.test("without TRUST_PROXY a client's own X-Forwarded-For gains nothing", async (t) => {
  const [a] = await twoReplicas(t);
  const statuses = [];
  for (let i = 1; i <= 6; i++) {
    const response = await signInFrom(a, "203.0.113.60", { headers: { "x-forwarded-for": `198.51.100.${i}` } });
    statuses.push(response.statusCode);
  }
  t.same(statuses, [401, 401, 401, 401, 401, 429]);
});

t.test("with TRUST_PROXY the proxy's X-Forwarded-For is the client address", async (t) => {
  for (const trustProxy of ["1", "10.0.0.5", "10.0.0.0/8"]) {
    t.test(`TRUST_PROXY=${trustProxy}`, async (t) => {
      const [a] = await twoReplicas(t, { TRUST_PROXY: trustProxy });
      const viaProxy = (client: string) => signInFrom(a, "10.0.0.5", { headers: { "x-forwarded-for": client } });
      for (let i = 1; i <= 6; i++) t.equal((await viaProxy(`198.51.100.${i}`)).statusCode, 401, `client ${i} has its own budget`);
      for (let i = 1; i <= 4; i++) t.equal((await viaProxy("198.51.100.1")).statusCode, 401);
      t.equal((await viaProxy("198.51.100.1")).statusCode, 429, "one client's sixth attempt is refused");
    });
  }
});

t.test("with TRUST_PROXY set to the proxy's address, a client that is not the proxy cannot claim an address", async (t) => {
  const [a] = await twoReplicas(t, { TRUST_PROXY: "10.0.0.5" });
  const statuses = [];
  for (let i = 1; i <= 6; i++) {
    statuses.push((await signInFrom(a, "203.0.113.61", { headers: { "x-forwarded-for": `198.51.100.${i}` } })).statusCode);
  }
  t.same(statuses, [401, 401, 401, 401, 401, 429]);
});

t.test("IPv6 clients are counted per /64", async (t) => {
  const [a, b] = await twoReplicas(t);
  const sameNetwork = ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:aaaa::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::9"];
  for (const [i, address] of sameNetwork.entries()) t.equal((await signInFrom(i % 2 ? a : b, address)).statusCode, 401, address);
  t.equal((await signInFrom(a, "2001:db8:1:2::abcd")).statusCode, 429, "the sixth from the same /64");
  t.equal((await signInFrom(a, "2001:db8:1:3::1")).statusCode, 401, "the next /64 has its own budget");
});
