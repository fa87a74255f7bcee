// One canonical request target: every spelling of a limited route (dot segments, %2e, backslashes,
// repeated and trailing slashes, percent-encoded letters) reaches that route and counts against
// its one budget, on two replicas; a target with no canonical spelling (absolute-form, an encoded
// slash, ...) is a 400 INVALID_REQUEST_TARGET, counted nowhere. Over real HTTP: inject and fetch
// normalise targets before they are sent, an attacker's raw request does not.
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { connect, type AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import t from "tap";
import type { Test } from "tap";
import { buildInternalApp } from "../src/internal-app.js";
import { canonicalTarget } from "../src/request-path.js";
import { buildReplicas, buildTestApp, productionLimits } from "@temetro/test-support/auth-app";
import { createClinic, PASSWORD, signUp, uniqueEmail, uniqueUsername } from "@temetro/test-support/auth-requests";

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  json(): any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** Sends `method target` byte for byte (Node's client does not rewrite the target) to a listening app. */
function send(port: number, method: string, target: string, payload?: object, headers: Record<string, string> = {}): Promise<Answer> {
  const body = payload === undefined ? undefined : JSON.stringify(payload);
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      {
        host: "127.0.0.1",
        port,
        method,
        path: target,
        agent: false,
        headers: { host: "localhost:4000", ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
      },
      (incoming) => {
        let text = "";
        incoming.setEncoding("utf8");
        incoming.on("data", (chunk: string) => (text += chunk));
        incoming.on("end", () => resolve({ status: incoming.statusCode!, headers: incoming.headers, body: text, json: () => JSON.parse(text) }));
        incoming.on("error", reject);
      },
    );
    outgoing.on("error", reject);
    outgoing.end(body);
  });
}

/** An account signed up from another address than the raw requests' (127.0.0.1): no budget of theirs spent. */
async function accountOf(app: FastifyInstance) {
  const email = uniqueEmail();
  const response = await app.inject({
    method: "POST",
    url: "/api/auth/sign-up/email",
    payload: { name: "Dr. Amina Yusuf", email, password: PASSWORD },
    remoteAddress: "203.0.113.200",
  });
  if (response.statusCode !== 200) throw new Error(`sign-up failed: ${response.statusCode}`);
  return { email };
}

async function listening(app: FastifyInstance): Promise<number> {
  await app.listen({ host: "127.0.0.1", port: 0 });
  return (app.server.address() as AddressInfo).port;
}

/** Two replicas sharing every count, both listening; request i goes to replica i % 2. */
async function twoListeningReplicas(t: Test, env: Record<string, string> = {}) {
  const replicas = await buildReplicas(t, 2, { env: { ...productionLimits, ...env } });
  const ports = await Promise.all(replicas.map(({ app }) => listening(app)));
  return { apps: replicas.map(({ app }) => app), ports };
}

/**
 * Ten spellings of a path `/api/<area>/<route>[/...]`, each one a request target that names the
 * same resource: what the issue lists, and more.
 */
function spellingsOf(path: string, query = ""): string[] {
  const [, api, area, route, ...rest] = path.split("/");
  const tail = [route, ...rest].join("/");
  const lastSlash = path.lastIndexOf("/");
  const paths = [
    `/${api}/${area}/./${tail}`,
    `/${api}/${area}/x/../${tail}`,
    `/${api}/${area}/%2e/${tail}`,
    `/${api}/${area}/%2E%2E/${area}/${tail}`,
    `${path.slice(0, lastSlash)}/./${path.slice(lastSlash + 1)}`,
    `${path.slice(0, lastSlash)}\\${path.slice(lastSlash + 1)}`,
    path.replace(/\//g, "//"),
    `/${api}/${area}/%${route!.charCodeAt(0).toString(16)}${tail.slice(1)}`,
    `${path}/`,
  ];
  return [...paths.map((spelling) => spelling + query), `${path}${query ? `${query}&` : "?"}via=another-spelling`];
}

interface LimitedRoute {
  name: string;
  budgetVariable: string;
  method: "GET" | "POST";
  path: string;
  query?: string;
  /** A fresh body for each request (unique accounts, where one is created). */
  body?: () => object;
  /** What the route itself answers (so no spelling is a 404 that merely got counted). */
  servedBy(t: Test, answer: Answer, target: string): void;
}

/** Every limited route, asked about `account` where it takes an address. */
function limitedRoutes(account: { email: string }): LimitedRoute[] {
  return [
    {
      name: "sign-in by email",
      budgetVariable: "RATE_LIMIT_SIGN_IN",
      method: "POST",
      path: "/api/auth/sign-in/email",
      body: () => ({ email: account.email, password: PASSWORD }),
      servedBy: (t, answer, target) => {
        t.equal(answer.status, 200, `${target} signs in`);
        t.equal(answer.json().user?.email, account.email, target);
        t.match(String(answer.headers["set-cookie"]), /session_token=/, `${target} sets the session cookie`);
      },
    },
    {
      name: "sign-in by username",
      budgetVariable: "RATE_LIMIT_SIGN_IN",
      method: "POST",
      path: "/api/auth/sign-in/username",
      body: () => ({ username: uniqueUsername("nobody"), password: PASSWORD }),
      servedBy: (t, answer, target) => {
        t.equal(answer.status, 401, target);
        t.equal(answer.json().code, "INVALID_USERNAME_OR_PASSWORD", `${target} is username sign-in's answer`);
      },
    },
    {
      name: "sign-up",
      budgetVariable: "RATE_LIMIT_SIGN_UP",
      method: "POST",
      path: "/api/auth/sign-up/email",
      body: () => ({ name: "Dr. Spelling", email: uniqueEmail("spelling"), password: PASSWORD }),
      servedBy: (t, answer, target) => {
        t.equal(answer.status, 200, `${target} creates an account`);
        t.match(answer.json().user?.email, /^spelling-/, target);
      },
    },
    ...["forget-password", "request-password-reset"].map(
      (route): LimitedRoute => ({
        name: route,
        budgetVariable: "RATE_LIMIT_PASSWORD_RESET",
        method: "POST",
        path: `/api/auth/${route}`,
        body: () => ({ email: account.email }),
        servedBy: (t, answer, target) => {
          t.equal(answer.status, 200, `${target} queues a reset email`);
          t.match(answer.json(), { status: true }, target);
        },
      }),
    ),
    {
      name: "reset-by-username",
      budgetVariable: "RATE_LIMIT_PASSWORD_RESET",
      method: "POST",
      path: "/api/auth-helpers/reset-by-username",
      body: () => ({ username: uniqueUsername("nobody") }),
      servedBy: (t, answer, target) => {
        t.equal(answer.status, 200, target);
        t.same(answer.json(), { ok: true }, target);
      },
    },
    {
      name: "send-verification-email",
      budgetVariable: "RATE_LIMIT_VERIFICATION_EMAIL",
      method: "POST",
      path: "/api/auth/send-verification-email",
      body: () => ({ email: account.email }),
      servedBy: (t, answer, target) => {
        t.equal(answer.status, 200, target);
        t.same(answer.json(), { status: true }, target);
      },
    },
    {
      name: "reset completion (the new password)",
      budgetVariable: "RATE_LIMIT_RESET_COMPLETION",
      method: "POST",
      path: "/api/auth/reset-password",
      body: () => ({ token: "not-a-token", newPassword: PASSWORD }),
      servedBy: (t, answer, target) => {
        t.equal(answer.status, 400, target);
        t.equal(answer.json().code, "INVALID_TOKEN", `${target} is reset-password's answer`);
      },
    },
    {
      name: "reset completion (the emailed link)",
      budgetVariable: "RATE_LIMIT_RESET_COMPLETION",
      method: "GET",
      path: "/api/auth/reset-password/not-a-token",
      query: "?callbackURL=http%3A%2F%2Flocalhost%3A3000%2Freset-password",
      servedBy: (t, answer, target) => {
        t.equal(answer.status, 302, target);
        t.match(String(answer.headers.location), /error=INVALID_TOKEN/, `${target} is the link's answer`);
      },
    },
  ];
}

t.test("every spelling of a limited route reaches it and spends its one budget, on two replicas", async (t) => {
  for (const { name } of limitedRoutes({ email: "" })) {
    t.test(name, async (t) => {
      // Ten requests allowed: one for each spelling.
      const budgets = { RATE_LIMIT_SIGN_IN: "10", RATE_LIMIT_SIGN_UP: "10", RATE_LIMIT_PASSWORD_RESET: "10", RATE_LIMIT_VERIFICATION_EMAIL: "10" };
      const { apps, ports } = await twoListeningReplicas(t, budgets);
      const route = limitedRoutes(await accountOf(apps[0]!)).find((candidate) => candidate.name === name)!;
      const spellings = spellingsOf(route.path, route.query);
      t.equal(spellings.length, 10);
      for (const [i, target] of spellings.entries()) {
        const answer = await send(ports[i % 2]!, route.method, target, route.body?.());
        route.servedBy(t, answer, target);
        t.equal(answer.headers["ratelimit-remaining"], String(9 - i), `${target} spent one request of the budget`);
      }
      const eleventh = await send(ports[0]!, route.method, route.path + (route.query ?? ""), route.body?.());
      t.equal(eleventh.status, 429, "the eleventh request, in the plain spelling, is over the budget");
      t.equal(eleventh.json().code, "RATE_LIMITED");
      t.ok(Number(eleventh.headers["retry-after"]) >= 1);
    });
  }
});

/** Targets that name no path of this service in one unambiguous spelling. */
function refusedSpellingsOf(path: string, query = ""): string[] {
  const lastSlash = path.lastIndexOf("/");
  const [head, last] = [path.slice(0, lastSlash), path.slice(lastSlash + 1)];
  const targets = [
    `http://localhost:4000${path}`, // absolute-form
    `HTTP://evil.example${path}?x=1`,
    "*",
    `${head}%2f${last}`, // an encoded slash: a separator or not, depending on who reads it
    `${head}%2F..%2F${last}`,
    `${head}%5c${last}`,
    `${path};jsessionid=1`, // a parameter delimiter to some routers
    `${path}#fragment`,
    `${head}/${last}%`,
    `${head}/%zz${last}`,
    `${head}/${last}|`,
  ];
  return targets.map((target) => (target === "*" ? target : target + query));
}

t.test("a target with no canonical spelling is a 400 INVALID_REQUEST_TARGET on every limited route, counted against no budget", async (t) => {
  const { apps, ports } = await twoListeningReplicas(t);
  const spent = new Map<string, number>();
  for (const route of limitedRoutes(await accountOf(apps[0]!))) {
    for (const [i, target] of refusedSpellingsOf(route.path, route.query).entries()) {
      const answer = await send(ports[i % 2]!, route.method, target, route.body?.());
      t.equal(answer.status, 400, `${route.method} ${target}`);
      t.equal(answer.json().code, "INVALID_REQUEST_TARGET", target);
      t.type(answer.json().error, "string");
      t.notOk(answer.headers["ratelimit-limit"], `${target} is counted against no budget`);
    }
    // Eleven refusals, more than any budget allows, and only the plain requests were counted.
    const plain = await send(ports[1]!, route.method, route.path + (route.query ?? ""), route.body?.());
    route.servedBy(t, plain, route.path);
    spent.set(route.budgetVariable, (spent.get(route.budgetVariable) ?? 0) + 1);
    const remaining = Number(productionLimits[route.budgetVariable]) - spent.get(route.budgetVariable)!;
    t.equal(plain.headers["ratelimit-remaining"], String(remaining), `${route.name}: only the plain requests counted`);
  }
});

t.test("routes are case-sensitive: an upper-case spelling is another path, which nothing serves", async (t) => {
  const { apps, ports } = await twoListeningReplicas(t);
  const account = await signUp(apps[0]!);
  for (const target of ["/api/auth/SIGN-IN/email", "/api/auth/sign-in/EMAIL", "/API/auth/sign-in/email", "/api/auth/%53ign-in/email"]) {
    const answer = await send(ports[0]!, "POST", target, { email: account.email, password: PASSWORD });
    t.equal(answer.status, 404, target);
    t.equal(answer.json().code, "NOT_FOUND", target);
    t.notOk(answer.headers["set-cookie"], `${target} signs nobody in`);
  }
  const signIn = await send(ports[1]!, "POST", "/api/auth/sign-in/email", { email: account.email, password: PASSWORD });
  t.equal(signIn.headers["ratelimit-remaining"], "4", "the sign-in budget is untouched by them");
});

t.test("the service's own routes answer every spelling of their path too", async (t) => {
  const { apps, ports } = await twoListeningReplicas(t);
  const owner = await signUp(apps[0]!);
  const clinic = await createClinic(apps[0]!, owner.cookie);
  for (const target of ["/api//clinic", "/api/clinic/", "/api/x/../clinic", "/api/%63linic", "/api/./clinic?x=1"]) {
    const answer = await send(ports[0]!, "GET", target, undefined, { cookie: owner.cookie });
    t.equal(answer.status, 200, target);
    t.equal(answer.json().clinic.id, clinic.id, target);
  }
  const session = await send(ports[1]!, "GET", "/api/auth//get-session/", undefined, { cookie: owner.cookie });
  t.equal(session.json().user.email, owner.email, "get-session under another spelling");
});

t.test("OPTIONS * is answered; CONNECT and authority-form are refused with the same code; the parser's refusals in JSON", async (t) => {
  const { ports } = await twoListeningReplicas(t);
  const options = await send(ports[0]!, "OPTIONS", "*");
  t.equal(options.status, 204);
  t.match(options.headers.allow, /POST/);
  for (const [method, target] of [
    ["GET", "*"],
    ["POST", "localhost:4000"],
    ["GET", "/api/auth/get-s\u00e9ssion"],
  ] as const) {
    const answer = await send(ports[1]!, method, target);
    t.equal(answer.status, 400, `${method} ${target}`);
    t.equal(answer.json().code, "INVALID_REQUEST_TARGET", `${method} ${target}`);
  }
  const tunnel = await new Promise<string>((resolve, reject) => {
    const socket = connect(ports[0]!, "127.0.0.1", () => socket.write("CONNECT localhost:4000 HTTP/1.1\r\nHost: localhost:4000\r\n\r\n"));
    let text = "";
    socket.on("data", (chunk) => (text += chunk.toString()));
    socket.on("close", () => resolve(text));
    socket.on("error", reject);
  });
  t.match(tunnel, /^HTTP\/1\.1 400 /);
  t.match(tunnel, /"code":"INVALID_REQUEST_TARGET"/);

  // Other requests Node's parser refuses get the service's error body too, and their own status.
  const oversized = await send(ports[0]!, "GET", "/api/auth/get-session", undefined, { "x-padding": "x".repeat(20_000) });
  t.equal(oversized.status, 431);
  t.same(oversized.json(), { error: "Request Header Fields Too Large", code: "BAD_REQUEST", message: "Request Header Fields Too Large" });
  // HEAD: the same status without a body, which its client would otherwise misread (a parse error).
  const oversizedHead = await send(ports[0]!, "HEAD", "/health/ready", undefined, { "x-padding": "x".repeat(20_000) });
  t.equal(oversizedHead.status, 431);
});

t.test("the internal listener takes the same canonical targets", async (t) => {
  const { app } = await buildTestApp(t);
  const internal = await buildInternalApp(app);
  t.teardown(() => internal.close());
  const port = await listening(internal);
  const { cookie } = await signUp(app);
  const authorization = `Bearer ${app.config.internalToken}`;
  for (const target of ["/internal/v1/./introspect", "/internal//v1/introspect/", "/internal/v1/%69ntrospect"]) {
    const answer = await send(port, "POST", target, { cookie }, { authorization });
    t.equal(answer.status, 200, target);
    t.equal(answer.json().active, true, target);
  }
  for (const target of ["http://localhost:4001/internal/v1/introspect", "/internal/v1%2fintrospect"]) {
    const answer = await send(port, "POST", target, { cookie }, { authorization });
    t.equal(answer.status, 400, target);
    t.equal(answer.json().code, "INVALID_REQUEST_TARGET", target);
  }
});

t.test("the canonical spelling: what is rewritten, what is kept, what is refused", async (t) => {
  const rewritten: [string, string][] = [
    ["/api/auth/sign-in/email", "/api/auth/sign-in/email"],
    ["/", "/"],
    ["//", "/"],
    ["/../../api/clinic", "/api/clinic"],
    ["/api/auth/sign-in/email/..", "/api/auth/sign-in"],
    ["/api/auth/.%2E/auth/%2e%2E/auth/sign-up/email", "/api/auth/sign-up/email"],
    ["/api/staff/%7Euser%2dx", "/api/staff/~user-x"],
    // Only unreserved characters are decoded; other encodings keep one (upper-case) spelling.
    ["/api/auth/organization/get-full-organization/caf%c3%a9", "/api/auth/organization/get-full-organization/caf%C3%A9"],
    ["/api/staff/%00", "/api/staff/%00"],
    // The query is kept byte for byte, whatever it holds.
    ["/api//auth/verify-email?token=a/../b%2F%zz#x", "/api/auth/verify-email?token=a/../b%2F%zz#x"],
    ["/api/clinic?", "/api/clinic?"],
  ];
  for (const [target, canonical] of rewritten) t.same(canonicalTarget(target), { url: canonical }, target);
  for (const target of ["", "api/clinic", "http://x/api", "*", "/a%2fb", "/a%5Cb", "/a;b", "/a#b", "/a%", "/a%4", "/a%g0", "/a b", "/a\u00e9", "/a\u0000"]) {
    t.type((canonicalTarget(target) as { refused?: string }).refused, "string", JSON.stringify(target));
  }
});
