// The example service guarded by @temetro/auth-client, against the real auth service over HTTP:
// cookies go through introspection, bearer tokens are checked against the JWKS.
import { createServer, type Server } from "node:net";
import Fastify, { type FastifyInstance } from "fastify";
import t, { type Test } from "tap";
import { addMember, cookieOf, createClinic, createStaff, signInByUsername, signUp } from "@temetro/test-support/auth-requests";
import { startAuthService, startNotes, urlOf } from "./fixtures/auth-service.js";

const getNotes = (notes: FastifyInstance, headers: Record<string, string> = {}) =>
  notes.inject({ method: "GET", url: "/notes", headers });
const postNote = (notes: FastifyInstance, headers: Record<string, string> = {}) =>
  notes.inject({ method: "POST", url: "/notes", headers, payload: { text: "Follow up in two weeks" } });

async function tokenOf(auth: FastifyInstance, cookie: string): Promise<string> {
  const response = await auth.inject({ method: "GET", url: "/api/auth/token", headers: { cookie } });
  if (response.statusCode !== 200) throw new Error(`token failed: ${response.statusCode} ${response.body}`);
  return response.json().token as string;
}

/** An owner with a clinic and a lab member of it, each signed in. */
async function clinicWithLabMember(auth: FastifyInstance) {
  const owner = await signUp(auth);
  const clinic = await createClinic(auth, owner.cookie);
  const lab = await addMember(auth, owner.cookie, clinic.id, "lab");
  return { owner, clinic, lab };
}

t.test("with a session cookie: 401 without a session, 403 without a clinic or the permission, 200 with them", async (t) => {
  const service = await startAuthService(t);
  const { notes, logText } = await startNotes(t, service.clientOptions);

  const anonymous = await getNotes(notes);
  t.equal(anonymous.statusCode, 401);
  t.same(anonymous.json(), { error: "Sign in first: no valid session", code: "UNAUTHENTICATED", message: "Sign in first: no valid session" });
  t.equal((await getNotes(notes, { cookie: "better-auth.session_token=forged.value" })).json().code, "UNAUTHENTICATED");

  const loner = await signUp(service.app);
  const noClinic = await getNotes(notes, { cookie: loner.cookie });
  t.equal(noClinic.statusCode, 403);
  t.equal(noClinic.json().code, "NO_ACTIVE_CLINIC");
  const me = await notes.inject({ method: "GET", url: "/me", headers: { cookie: loner.cookie } });
  t.same(me.json(), { userId: loner.userId, via: "session", clinic: null }, "requireSession lets a user without a clinic through");

  const { owner, clinic, lab } = await clinicWithLabMember(service.app);
  const written = await postNote(notes, { cookie: owner.cookie });
  t.equal(written.statusCode, 201);
  t.match(written.json().note, { clinicId: clinic.id, authorId: owner.userId });

  const labRead = await getNotes(notes, { cookie: lab.cookie });
  t.equal(labRead.statusCode, 200, "lab may read patients");
  t.equal(labRead.json().notes.length, 1);
  const labWrite = await postNote(notes, { cookie: lab.cookie });
  t.equal(labWrite.statusCode, 403, "lab may not write patients");
  t.same(labWrite.json(), { error: "Your role in this clinic does not allow this", code: "FORBIDDEN", message: "Your role in this clinic does not allow this" });

  t.notOk(logText().includes(owner.cookie.split("=")[1]!.slice(0, 20)), "no cookie in the service's log");
});

t.test("a staff account that must still replace its initial password gets 403 PASSWORD_CHANGE_REQUIRED", async (t) => {
  const service = await startAuthService(t);
  const { notes } = await startNotes(t, service.clientOptions);
  const owner = await signUp(service.app);
  await createClinic(service.app, owner.cookie);
  const staff = await createStaff(service.app, owner.cookie, { role: "doctor" });
  const cookie = cookieOf(await signInByUsername(service.app, staff.username));
  const response = await getNotes(notes, { cookie });
  t.equal(response.statusCode, 403);
  t.equal(response.json().code, "PASSWORD_CHANGE_REQUIRED");
  const me = await notes.inject({ method: "GET", url: "/me", headers: { cookie } });
  t.equal(me.statusCode, 200, "requireSession alone lets them through (to change the password)");
});

t.test("with a JWT from /api/auth/token: the same answers, permissions from the role table", async (t) => {
  const service = await startAuthService(t);
  const { notes, logText } = await startNotes(t, service.clientOptions);
  const { owner, clinic, lab } = await clinicWithLabMember(service.app);
  const ownerToken = await tokenOf(service.app, owner.cookie);
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  const written = await postNote(notes, bearer(ownerToken));
  t.equal(written.statusCode, 201, written.body);
  t.match(written.json().note, { clinicId: clinic.id, authorId: owner.userId });
  const me = await notes.inject({ method: "GET", url: "/me", headers: bearer(ownerToken) });
  t.same(me.json(), { userId: owner.userId, via: "jwt", clinic: { id: clinic.id, role: "owner" } });

  const labToken = await tokenOf(service.app, lab.cookie);
  t.equal((await getNotes(notes, bearer(labToken))).statusCode, 200);
  const labWrite = await postNote(notes, bearer(labToken));
  t.equal(labWrite.statusCode, 403);
  t.equal(labWrite.json().code, "FORBIDDEN");

  const loner = await signUp(service.app);
  const noClinic = await getNotes(notes, bearer(await tokenOf(service.app, loner.cookie)));
  t.equal(noClinic.statusCode, 403);
  t.equal(noClinic.json().code, "NO_ACTIVE_CLINIC");

  // A bad bearer token is refused, even alongside a good cookie: it is never traded for the cookie.
  const tampered = ownerToken.slice(0, -4) + (ownerToken.endsWith("AAAA") ? "BBBB" : "AAAA");
  const refused = await getNotes(notes, { ...bearer(tampered), cookie: owner.cookie });
  t.equal(refused.statusCode, 401);
  t.same(refused.json(), { error: "The bearer token is not valid", code: "UNAUTHENTICATED", message: "The bearer token is not valid" });
  t.equal((await getNotes(notes, { authorization: "Bearer" })).statusCode, 401, "an empty bearer is refused");
  t.notOk(logText().includes(ownerToken.split(".")[2]!), "no token in the service's log");
});

t.test("a JWT for another audience or from another issuer is refused", async (t) => {
  const service = await startAuthService(t);
  const { owner } = await clinicWithLabMember(service.app);
  const token = await tokenOf(service.app, owner.cookie);
  const jwt = service.clientOptions.jwt;
  for (const [label, override] of [
    ["audience", { audience: "billing" }],
    ["issuer", { issuer: "https://auth.elsewhere.example" }],
    ["algorithm", { algorithms: ["ES256"] }],
  ] as const) {
    const { notes } = await startNotes(t, { ...service.clientOptions, jwt: { ...jwt, ...override } });
    const response = await getNotes(notes, { authorization: `Bearer ${token}` });
    t.equal(response.statusCode, 401, label);
    t.equal(response.json().code, "UNAUTHENTICATED", label);
  }
});

t.test("INTERNAL_TOKEN: a client that presents it is answered; one that does not gets 503, not a 500", async (t) => {
  const internalToken = "an-internal-token-of-at-least-32-characters";
  const service = await startAuthService(t, { INTERNAL_TOKEN: internalToken });
  const { owner } = await clinicWithLabMember(service.app);

  const { notes } = await startNotes(t, { ...service.clientOptions, internalToken });
  t.equal((await getNotes(notes, { cookie: owner.cookie })).statusCode, 200);

  const misconfigured = await startNotes(t, service.clientOptions);
  const refused = await getNotes(misconfigured.notes, { cookie: owner.cookie });
  t.equal(refused.statusCode, 503);
  t.equal(refused.json().code, "AUTH_UNAVAILABLE");
  t.match(misconfigured.logText(), /INTERNAL_TOKEN_REQUIRED/, "the log says why");
});

t.test("the cache's staleness bound: with cacheTtlMs 0 a sign-out shows at once; a cached answer lives at most cacheTtlMs", async (t) => {
  const service = await startAuthService(t);
  const signOut = (cookie: string) =>
    service.app.inject({ method: "POST", url: "/api/auth/sign-out", headers: { cookie } });

  const uncached = await startNotes(t, { ...service.clientOptions, cacheTtlMs: 0 });
  const first = await clinicWithLabMember(service.app);
  t.equal((await getNotes(uncached.notes, { cookie: first.owner.cookie })).statusCode, 200);
  t.equal((await signOut(first.owner.cookie)).statusCode, 200);
  t.equal((await getNotes(uncached.notes, { cookie: first.owner.cookie })).statusCode, 401, "signed out: refused at once");

  const cached = await startNotes(t, { ...service.clientOptions, cacheTtlMs: 60_000 });
  const second = await clinicWithLabMember(service.app);
  t.equal((await getNotes(cached.notes, { cookie: second.owner.cookie })).statusCode, 200);
  await signOut(second.owner.cookie);
  t.equal((await getNotes(cached.notes, { cookie: second.owner.cookie })).statusCode, 200, "within the bound the cached answer serves");

  const shortLived = await startNotes(t, { ...service.clientOptions, cacheTtlMs: 100 });
  const third = await clinicWithLabMember(service.app);
  t.equal((await getNotes(shortLived.notes, { cookie: third.owner.cookie })).statusCode, 200);
  await signOut(third.owner.cookie);
  await new Promise((resolve) => setTimeout(resolve, 150));
  t.equal((await getNotes(shortLived.notes, { cookie: third.owner.cookie })).statusCode, 401, "past the bound the auth service is asked again");
});

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as { port: number }).port;
}

t.test("the auth service unreachable, hanging or its key set gone: 503 AUTH_UNAVAILABLE, never a 500 or a hang", async (t: Test) => {
  const service = await startAuthService(t);
  const { owner } = await clinicWithLabMember(service.app);
  const token = await tokenOf(service.app, owner.cookie);

  // A port nobody listens on.
  const closed = createServer();
  const closedPort = await listen(closed);
  await new Promise((resolve) => closed.close(resolve));
  // A peer that accepts and never answers.
  const sockets = new Set<import("node:net").Socket>();
  const silent = createServer((socket) => sockets.add(socket));
  const silentPort = await listen(silent);
  t.teardown(() => {
    for (const socket of sockets) socket.destroy();
    silent.close();
  });

  for (const [label, port] of [["refused", closedPort], ["hanging", silentPort]] as const) {
    const { notes, logText } = await startNotes(t, {
      introspectionUrl: `http://127.0.0.1:${port}/internal/v1/introspect`,
      timeoutMs: 200,
      jwt: { ...service.clientOptions.jwt, jwksUrl: `http://127.0.0.1:${port}/api/auth/jwks`, timeoutMs: 200 },
    });
    for (const headers of [{ cookie: owner.cookie }, { authorization: `Bearer ${token}` }] as Record<string, string>[]) {
      const response = await getNotes(notes, headers);
      t.equal(response.statusCode, 503, `${label}: ${Object.keys(headers)[0]}`);
      t.same(response.json(), { error: "The authentication service is unavailable; try again shortly", code: "AUTH_UNAVAILABLE", message: "The authentication service is unavailable; try again shortly" });
      t.equal(response.headers["retry-after"], "5");
    }
    t.match(logText(), /auth service unavailable/);
    t.notOk(logText().includes(token.split(".")[2]!), "no token in the log");
  }

  // An auth service answering 5xx (a stand-in on the introspection path: the real one answers
  // 503 only while its own database is down).
  const failing = Fastify();
  failing.post("/internal/v1/introspect", async (_request, reply) => reply.code(502).send({ error: "Bad gateway", code: "BAD_GATEWAY" }));
  await failing.listen({ host: "127.0.0.1", port: 0 });
  t.teardown(() => failing.close());
  const { notes, logText } = await startNotes(t, { introspectionUrl: `${urlOf(failing)}/internal/v1/introspect` });
  const down = await getNotes(notes, { cookie: owner.cookie });
  t.equal(down.statusCode, 503);
  t.equal(down.json().code, "AUTH_UNAVAILABLE");
  t.match(logText(), /introspection answered 502 BAD_GATEWAY/);
});

t.test("the cache keeps answers, never failures: after an outage the next request asks again", async (t) => {
  const service = await startAuthService(t);
  const { owner } = await clinicWithLabMember(service.app);
  // In front of the real introspection: fails the first question, then passes questions through.
  let failNext = true;
  const front = Fastify();
  front.post("/internal/v1/introspect", async (request, reply) => {
    if (failNext) {
      failNext = false;
      return reply.code(503).send({ error: "Service temporarily unavailable", code: "SERVICE_UNAVAILABLE" });
    }
    const answer = await fetch(service.clientOptions.introspectionUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(request.body),
    });
    return reply.code(answer.status).send(await answer.json());
  });
  await front.listen({ host: "127.0.0.1", port: 0 });
  t.teardown(() => front.close());

  const { notes } = await startNotes(t, { introspectionUrl: `${urlOf(front)}/internal/v1/introspect`, cacheTtlMs: 60_000 });
  t.equal((await getNotes(notes, { cookie: owner.cookie })).statusCode, 503);
  t.equal((await getNotes(notes, { cookie: owner.cookie })).statusCode, 200, "the outage was not cached");
});
