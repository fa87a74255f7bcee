// requireLiveSession against the real auth service over HTTP: a JWT from /api/auth/token outlives
// the session it was minted from (a sign-out, a demotion) by up to its 5 minutes, and a cached
// introspection answer by up to cacheTtlMs; a route that demands a live check accepts neither.
import type { AddressInfo } from "node:net";
import Fastify, { type FastifyInstance } from "fastify";
import t, { type Test } from "tap";
import { buildInternalApp } from "@temetro/auth/internal-app";
import { buildTestApp } from "@temetro/test-support/auth-app";
import { addMember, createClinic, signUp } from "@temetro/test-support/auth-requests";
import temetroAuth, { requireLiveSession, requirePermission, type TemetroAuthOptions } from "../src/index.js";

const urlOf = (server: FastifyInstance) => `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`;

/** The auth service's public and internal listeners, and a service guarded by the client. */
async function start(t: Test) {
  const { app: auth, config } = await buildTestApp(t);
  const internal = await buildInternalApp(auth);
  await auth.listen({ host: "127.0.0.1", port: 0 });
  await internal.listen({ host: "127.0.0.1", port: 0 });
  t.teardown(() => internal.close());
  const options: TemetroAuthOptions = {
    introspectionUrl: `${urlOf(internal)}/internal/v1/introspect`,
    // Answers reused for a minute: the live route must not be fooled by them either.
    cacheTtlMs: 60_000,
    jwt: { jwksUrl: `${urlOf(auth)}/api/auth/jwks`, issuer: config.betterAuthUrl, audience: config.jwtAudience },
  };
  const service = Fastify();
  await service.register(temetroAuth, options);
  const written = async () => ({ ok: true });
  service.post("/notes", { onRequest: requirePermission({ patient: ["write"] }) }, written);
  service.post("/prescriptions/sign", { onRequest: [requireLiveSession, requirePermission({ patient: ["write"] })] }, written);
  t.teardown(() => service.close());
  return { auth, service };
}

async function tokenOf(auth: FastifyInstance, cookie: string): Promise<string> {
  const response = await auth.inject({ method: "GET", url: "/api/auth/token", headers: { cookie } });
  if (response.statusCode !== 200) throw new Error(`token failed: ${response.statusCode}`);
  return response.json().token as string;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

t.test("a live session passes the live check; a token alone does not", async (t) => {
  const { auth, service } = await start(t);
  const owner = await signUp(auth);
  await createClinic(auth, owner.cookie);
  const token = await tokenOf(auth, owner.cookie);

  const live = await service.inject({ method: "POST", url: "/prescriptions/sign", headers: { cookie: owner.cookie } });
  t.equal(live.statusCode, 200, "the session cookie, checked now");
  const byToken = await service.inject({ method: "POST", url: "/prescriptions/sign", headers: bearer(token) });
  t.equal(byToken.statusCode, 401);
  t.same(byToken.json(), {
    error: "This route needs a live session: send the session cookie (a token is not enough)",
    code: "UNAUTHENTICATED",
    message: "This route needs a live session: send the session cookie (a token is not enough)",
  });
  t.equal((await service.inject({ method: "POST", url: "/notes", headers: bearer(token) })).statusCode, 200, "a plain route takes the token");
});

t.test("after sign-out the session's still-valid JWT is accepted on a plain route and refused on a live-check route", async (t) => {
  const { auth, service } = await start(t);
  const owner = await signUp(auth);
  await createClinic(auth, owner.cookie);
  const token = await tokenOf(auth, owner.cookie);
  // The plain route has seen the cookie: its answer is cached for a minute.
  t.equal((await service.inject({ method: "POST", url: "/notes", headers: { cookie: owner.cookie } })).statusCode, 200);

  const signedOut = await auth.inject({ method: "POST", url: "/api/auth/sign-out", headers: { cookie: owner.cookie } });
  t.equal(signedOut.statusCode, 200, "signed out");

  t.equal((await service.inject({ method: "POST", url: "/notes", headers: bearer(token) })).statusCode, 200, "plain route: the token still works");
  t.equal(
    (await service.inject({ method: "POST", url: "/notes", headers: { cookie: owner.cookie } })).statusCode,
    200,
    "plain route: the cached answer still works",
  );
  for (const [what, headers] of [
    ["the token", bearer(token)],
    ["the cookie", { cookie: owner.cookie }],
    ["both", { ...bearer(token), cookie: owner.cookie }],
  ] as const) {
    const refused = await service.inject({ method: "POST", url: "/prescriptions/sign", headers });
    t.equal(refused.statusCode, 401, `live route refuses ${what}`);
    t.equal(refused.json().code, "UNAUTHENTICATED");
  }
});

t.test("after a demotion the old JWT still carries the old role; the live check sees the new one at once", async (t) => {
  const { auth, service } = await start(t);
  const owner = await signUp(auth);
  const clinic = await createClinic(auth, owner.cookie);
  const member = await addMember(auth, owner.cookie, clinic.id, "doctor");
  const token = await tokenOf(auth, member.cookie);

  const demoted = await auth.inject({
    method: "PATCH",
    url: `/api/staff/${member.userId}`,
    headers: { cookie: owner.cookie },
    payload: { role: "lab" },
  });
  t.equal(demoted.statusCode, 200, "the doctor is now lab, who may not write patients");

  t.equal((await service.inject({ method: "POST", url: "/notes", headers: bearer(token) })).statusCode, 200, "plain route: the token's old role");
  const live = await service.inject({ method: "POST", url: "/prescriptions/sign", headers: { ...bearer(token), cookie: member.cookie } });
  t.equal(live.statusCode, 403, "live route: the current role");
  t.equal(live.json().code, "FORBIDDEN");
});
