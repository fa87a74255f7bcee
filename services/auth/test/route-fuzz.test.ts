// Property-based fuzz of every route, public and internal: whatever a client sends, the answer is
// never a 5xx, never a 4xx without a JSON error body, and never nothing. The routes are found in the
// app (Fastify's routes and Better Auth's endpoints), so a new route is fuzzed without editing this.
// Most cases are injected; one in ten goes over a real socket, through Node's HTTP parser.
//
// FUZZ_RUNS: cases per route and persona (default 16). FUZZ_SEED: the seed (default fixed, so CI
// repeats itself; printed with every failure). FUZZ_ROUTE: only the routes whose path contains it.
import { createHash } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import fc from "fast-check";
import type { FastifyInstance } from "fastify";
import t from "tap";
import { buildInternalApp } from "../src/internal-app.js";
import { buildTestApp } from "@temetro/test-support/auth-app";
import { createClinic, createStaff, emailTo, PASSWORD, signUp, uniqueEmail, uniqueUsername } from "@temetro/test-support/auth-requests";
import { requestFor, type GeneratedRequest, type KnownValues } from "./fuzz/requests.js";
import { fastifyRoutesOf, publicRoutesOf, recordRoutesOfNewInstances, type FuzzRoute } from "./fuzz/routes.js";

const RUNS = Number(process.env.FUZZ_RUNS ?? 16);
const SEED = Number(process.env.FUZZ_SEED ?? 20261130);
const ROUTE_FILTER = process.env.FUZZ_ROUTE ?? "";
/** An answer slower than this is a hang (a sign-up hashes once, in milliseconds). */
const REQUEST_TIMEOUT_MS = Number(process.env.FUZZ_REQUEST_TIMEOUT_MS ?? 10_000);
const INTERNAL_TOKEN = "fuzz-internal-token-that-is-long-enough-0123456789";

t.setTimeout(Math.max(300_000, RUNS * 25_000));


recordRoutesOfNewInstances();

interface SentRequest {
  listener: string;
  overSocket: boolean;
  method: string;
  url: string;
  headers: Record<string, string>;
  payload: string | Buffer | undefined;
}

/** Who sends the requests: nobody, an account with no clinic, and a clinic's owner. */
interface Persona {
  name: string;
  cookie?: string;
  token?: string;
}

t.test("no request makes any route answer 5xx, a 4xx without a JSON error body, or nothing", async (t) => {
  const { app } = await buildTestApp(t, { env: { INTERNAL_TOKEN, INVITATIONS_PER_HOUR: "100000" } });
  const internal = await buildInternalApp(app);
  t.teardown(() => internal.close());
  // Some cases go through a real socket and Node's HTTP parser, as a client's would.
  await app.listen({ host: "127.0.0.1", port: 0 });
  await internal.listen({ host: "127.0.0.1", port: 0 });

  const known: KnownValues = { password: PASSWORD };
  const anonymous: Persona = { name: "an anonymous client" };
  const user: Persona = { name: "a signed-in user without a clinic" };
  const owner: Persona = { name: "a clinic owner" };

  const startUser = async () => {
    const account = await signUp(app, { username: uniqueUsername("user") });
    Object.assign(user, { cookie: account.cookie, token: sessionTokenOf(account.cookie) });
    Object.assign(known, { userId: account.userId, userEmail: account.email, username: account.username, userToken: user.token! });
  };
  const startOwner = async () => {
    const account = await signUp(app, { username: uniqueUsername("owner") });
    const clinic = await createClinic(app, account.cookie);
    Object.assign(owner, { cookie: account.cookie, token: sessionTokenOf(account.cookie) });
    Object.assign(known, { ownerId: account.userId, ownerEmail: account.email, ownerUsername: account.username, ownerToken: owner.token! });
    Object.assign(known, { clinicId: clinic.id, clinicSlug: clinic.slug });
    const staff = await createStaff(app, account.cookie);
    Object.assign(known, { staffId: staff.userId, staffUsername: staff.username });
    const invitee = uniqueEmail("invitee");
    const invite = await app.inject({
      method: "POST",
      url: "/api/auth/organization/invite-member",
      headers: { cookie: account.cookie },
      payload: { email: invitee, role: "doctor" },
    });
    if (invite.statusCode !== 200) throw new Error(`invite failed: ${invite.body}`);
    known.invitationId = new URL((await emailTo(app, invitee, "invitation")).url).searchParams.get("invitationId")!;
    known.inviteeEmail = invitee;
  };
  await startUser();
  await startOwner();

  // A case may end its persona's session or clinic (sign-out, delete, a password change): then the
  // next case gets a new one, or later cases would all be anonymous.
  const ensurePersonas = async () => {
    const userSession = await app.inject({ method: "GET", url: "/api/auth/get-session", headers: { cookie: user.cookie! } });
    const userClinic = await app.inject({ method: "GET", url: "/api/clinic", headers: { cookie: user.cookie! } });
    if (userSession.json() === null || userClinic.statusCode === 200) await startUser();
    const ownerClinic = await app.inject({ method: "GET", url: "/api/clinic", headers: { cookie: owner.cookie! } });
    if (ownerClinic.statusCode !== 200 || ownerClinic.json().role !== "owner") await startOwner();
  };

  const listeners: { name: string; app: FastifyInstance; routes: FuzzRoute[] }[] = [
    { name: "public", app, routes: publicRoutesOf(app) },
    { name: "internal", app: internal, routes: fastifyRoutesOf(internal) },
  ];
  // The enumeration itself: Better Auth's endpoints, Fastify's routes and the internal listener's.
  const paths = listeners.flatMap((listener) => listener.routes.map((route) => route.path));
  for (const path of ["/api/auth/sign-in/email", "/api/auth/organization/update", "/api/staff/:userId", "/health/ready", "/internal/v1/introspect", "/metrics"]) {
    t.ok(paths.includes(path), `${path} is among the fuzzed routes`);
  }

  for (const persona of [anonymous, user, owner]) {
    for (const listener of listeners) {
      await t.test(`as ${persona.name}, on the ${listener.name} listener`, async (t) => {
        const statusClasses = new Map<string, number>();
        for (const route of listener.routes.filter((one) => one.path.includes(ROUTE_FILTER))) {
          let personasMayHaveChanged = false;
          const seed = seedFor(listener.name, persona.name, route.path);
          const details = await fc.check(
            fc.asyncProperty(requestFor(route, known), async (generated) => {
              if (personasMayHaveChanged) {
                await ensurePersonas();
                personasMayHaveChanged = false;
              }
              const request = concreteRequest(listener.name, generated, persona, owner);
              const response = await answerOf(listener.app, request).catch((error: Error) => {
                throw error;
              });
              if (response === "unsendable") return;
              const statusClass = `${String(response.statusCode)[0]}xx`;
              statusClasses.set(statusClass, (statusClasses.get(statusClass) ?? 0) + 1);
              if (response.statusCode < 400 && !["GET", "HEAD", "OPTIONS"].includes(request.method)) personasMayHaveChanged = true;
              const problem = problemWith(request, response);
              if (problem) {
                throw new Error(`${problem}\n${describe(request)}\nanswer: ${response.statusCode} ${excerpt(response.body)}`);
              }
            }),
            { numRuns: RUNS, seed },
          );
          if (details.failed) {
            t.fail(`${route.methods.join(",")} ${route.path}`, {
              diagnostic: true,
              replay: `FUZZ_SEED=${SEED} FUZZ_ROUTE='${route.path}' FUZZ_RUNS=${RUNS} npx tap services/auth/test/route-fuzz.test.ts`,
              found: details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance),
              report: fc.defaultReportMessage(details),
            });
          } else {
            t.pass(`${route.methods.join(",")} ${route.path}: ${RUNS} cases`);
          }
          await ensurePersonas();
        }
        // A fuzz answered only 400s would test nothing past validation: the shapes from the
        // schemas and the known ids must get some requests through.
        t.comment(`answers: ${JSON.stringify(Object.fromEntries([...statusClasses].sort()))}`);
        if (!ROUTE_FILTER) t.ok((statusClasses.get("2xx") ?? 0) > 0, "some requests succeed");
      });
    }
  }
});

/** Each route and persona gets a seed of its own, all derived from FUZZ_SEED. */
function seedFor(...parts: string[]): number {
  return createHash("sha256").update(`${SEED}:${parts.join(":")}`).digest().readInt32LE(0);
}

function sessionTokenOf(cookie: string): string {
  const value = /session_token=([^;]+)/.exec(cookie)?.[1];
  if (!value) throw new Error(`no session token in ${cookie}`);
  return decodeURIComponent(value).split(".")[0]!;
}

/** The generated request with the persona's cookie and credentials put in. */
function concreteRequest(listener: string, generated: GeneratedRequest, persona: Persona, other: Persona): SentRequest {
  const headers: Record<string, string> = { ...generated.headers };
  if (generated.contentType !== undefined) headers["content-type"] = generated.contentType;
  const own = persona.cookie;
  const cookie = {
    persona: own,
    none: undefined,
    forged: "better-auth.session_token=forged-session-token.forged-signature",
    garbage: "=;;; a=%zz; better-auth.session_token=%E0%A4%A; \u00ff",
    "persona-and-junk": `${own ?? ""}; junk=%00; better-auth.session_data=not-a-cache`,
    "persona-twice": `${own ?? ""}; ${other.cookie}`,
  }[generated.cookie];
  if (cookie !== undefined) headers.cookie = cookie;
  const authorization = {
    none: undefined,
    "internal-token": `Bearer ${INTERNAL_TOKEN}`,
    "persona-bearer": persona.token ? `Bearer ${persona.token}` : undefined,
    "wrong-bearer": `Bearer ${"x".repeat(40)}`,
    basic: `Basic ${Buffer.from("admin:admin").toString("base64")}`,
    "empty-bearer": "Bearer ",
    garbage: "\u00ff%00 Bearer",
  }[generated.authorization];
  if (authorization !== undefined) headers.authorization = authorization;
  return { listener, overSocket: generated.overSocket, method: generated.method, url: generated.url, headers, payload: generated.payload };
}

interface Answer {
  statusCode: number;
  contentType: string | undefined;
  body: string;
}

/** Sends the request; an answer that does not come within the timeout is a hang. */
async function answerOf(app: FastifyInstance, request: SentRequest): Promise<Answer | "unsendable"> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms\n${describe(request)}`)), REQUEST_TIMEOUT_MS);
  });
  try {
    return await Promise.race([request.overSocket ? sendOverSocket(app, request) : inject(app, request), hang]);
  } finally {
    clearTimeout(timer);
  }
}

async function inject(app: FastifyInstance, request: SentRequest): Promise<Answer> {
  const response = await app.inject({
    method: request.method as "GET",
    url: request.url,
    headers: request.headers,
    ...(request.payload === undefined ? {} : { payload: request.payload }),
  });
  return { statusCode: response.statusCode, contentType: response.headers["content-type"] as string | undefined, body: response.body };
}

/** Over HTTP/1.1 to the listening app; a request Node's own client will not send is "unsendable". */
function sendOverSocket(app: FastifyInstance, request: SentRequest): Promise<Answer | "unsendable"> {
  const { port } = app.server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    let outgoing: http.ClientRequest;
    try {
      // A connection of its own: what one case leaves on a kept-alive connection is not the next one's answer.
      const length = request.payload === undefined ? {} : { "content-length": String(Buffer.byteLength(request.payload)) };
      outgoing = http.request({ host: "127.0.0.1", port, method: request.method, path: request.url, headers: { ...request.headers, ...length }, agent: false });
    } catch {
      return resolve("unsendable");
    }
    outgoing.on("error", reject);
    outgoing.on("response", (incoming) => {
      const chunks: Buffer[] = [];
      incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
      incoming.on("error", reject);
      incoming.on("end", () =>
        resolve({ statusCode: incoming.statusCode!, contentType: incoming.headers["content-type"], body: Buffer.concat(chunks).toString("utf8") }),
      );
    });
    outgoing.end(request.payload);
  });
}

/** What a user would see as broken: a server error, or a refusal that does not say what and why. */
function problemWith(request: SentRequest, response: Answer): string | undefined {
  if (response.statusCode >= 500) return `answered ${response.statusCode}`;
  if (response.statusCode < 400 || request.method === "HEAD") return undefined;
  if (!/^application\/json\b/.test(String(response.contentType))) {
    return `a ${response.statusCode} with content-type ${response.contentType}, not JSON`;
  }
  let body: unknown;
  try {
    body = JSON.parse(response.body);
  } catch {
    return `a ${response.statusCode} whose body does not parse as JSON`;
  }
  const fields = body as { code?: unknown; error?: unknown; message?: unknown } | null;
  if (typeof fields?.code !== "string" || typeof fields.error !== "string" || typeof fields.message !== "string" || !fields.message) {
    return `a ${response.statusCode} without { error, code, message }`;
  }
  return undefined;
}

function describe(request: SentRequest): string {
  const payload = request.payload === undefined ? "(no body)" : excerpt(Buffer.isBuffer(request.payload) ? `<bytes ${request.payload.toString("hex")}>` : request.payload);
  return `${request.listener}${request.overSocket ? " (over a socket)" : ""}: ${request.method} ${excerpt(request.url)}\nheaders: ${excerpt(JSON.stringify(request.headers))}\nbody: ${payload}`;
}

/** Long values (the fuzz sends 70 kB strings) are cut, and every character stays visible. */
function excerpt(text: string): string {
  const shown = JSON.stringify(text.length > 600 ? `${text.slice(0, 600)}… (${text.length} characters)` : text);
  return shown.slice(1, -1);
}
