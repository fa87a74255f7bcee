// The JWT path against a key set this test generates and serves, for the cases the real auth
// service never produces: expired, unknown key, other algorithms, missing claims.
import type { AddressInfo } from "node:net";
import Fastify, { type FastifyInstance } from "fastify";
import { exportJWK, generateKeyPair, SignJWT, type JWK } from "jose";
import t, { type Test } from "tap";
import { createTokenVerifier, errorCodes, InvalidTokenError, type TokenErrorCode } from "../src/core.js";
import temetroAuth, { requireClinic, requirePermission, requireSession, type TemetroAuthOptions } from "../src/index.js";

const issuer = "http://auth.test";
const audience = "temetro";

async function keyPair(kid: string) {
  const { publicKey, privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: "EdDSA" };
  return { privateKey, jwk, kid };
}

/** A key set served over HTTP, as GET /api/auth/jwks does. */
async function serveJwks(t: Test, keys: JWK[]) {
  const server = Fastify();
  server.get("/api/auth/jwks", async () => ({ keys }));
  await server.listen({ host: "127.0.0.1", port: 0 });
  t.teardown(() => server.close());
  return `http://127.0.0.1:${(server.server.address() as AddressInfo).port}/api/auth/jwks`;
}

/** A service with one route per hook. The introspection URL is never asked: every request bears a token. */
async function serviceWith(t: Test, options: Partial<TemetroAuthOptions> & Pick<TemetroAuthOptions, "jwt">) {
  const app = Fastify();
  await app.register(temetroAuth, { introspectionUrl: "http://127.0.0.1:9/internal/v1/introspect", ...options });
  app.get("/session", { onRequest: requireSession }, async (request) => request.auth);
  app.get("/clinic", { onRequest: requireClinic }, async (request) => request.auth);
  app.get("/prescriptions", { onRequest: requirePermission({ prescription: ["write"] }) }, async () => ({ ok: true }));
  t.teardown(() => app.close());
  return app;
}

type Claims = { sub?: string; clinic?: string | null; role?: string | null; aud?: string; iss?: string };

type SigningKey = Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];

async function sign(privateKey: SigningKey, kid: string, claims: Claims = {}, { exp = "5m", iat }: { exp?: string | number; iat?: number } = {}) {
  const { aud = audience, iss = issuer, ...rest } = claims;
  const jwt = new SignJWT({ sub: "user-1", clinic: "clinic-1", role: "pharmacy", ...rest })
    .setProtectedHeader({ alg: "EdDSA", kid })
    .setAudience(aud)
    .setIssuer(iss)
    .setExpirationTime(exp);
  if (iat !== undefined) jwt.setIssuedAt(iat);
  else jwt.setIssuedAt();
  return jwt.sign(privateKey);
}

const get = (app: FastifyInstance, url: string, token: string) =>
  app.inject({ method: "GET", url, headers: { authorization: `Bearer ${token}` } });

t.test("a valid token: the subject, the clinic and the role's permissions from the role table", async (t) => {
  const key = await keyPair("k1");
  const app = await serviceWith(t, { jwt: { jwksUrl: await serveJwks(t, [key.jwk]), issuer, audience } });
  const token = await sign(key.privateKey, key.kid);
  const response = await get(app, "/clinic", token);
  t.equal(response.statusCode, 200);
  t.match(response.json(), { via: "jwt", user: { id: "user-1" }, clinic: { id: "clinic-1", role: "pharmacy" } });
  t.same(response.json().clinic.permissions.prescription, ["read", "write"]);
  t.equal((await get(app, "/prescriptions", token)).statusCode, 200, "pharmacy writes prescriptions");
  const lab = await get(app, "/prescriptions", await sign(key.privateKey, key.kid, { role: "lab" }));
  t.equal(lab.statusCode, 403);
  t.equal(lab.json().code, "FORBIDDEN");
  const unknownRole = await get(app, "/prescriptions", await sign(key.privateKey, key.kid, { role: "janitor" }));
  t.equal(unknownRole.json().code, "FORBIDDEN", "an unknown role grants nothing");
  const noClinic = await get(app, "/clinic", await sign(key.privateKey, key.kid, { clinic: null, role: null }));
  t.equal(noClinic.statusCode, 403);
  t.equal(noClinic.json().code, "NO_ACTIVE_CLINIC");
  t.equal((await get(app, "/session", await sign(key.privateKey, key.kid, { clinic: null, role: null }))).statusCode, 200);
});

t.test("expired, too old, unknown key, another audience or issuer, no subject, garbage: 401 UNAUTHENTICATED", async (t) => {
  const key = await keyPair("k1");
  const stranger = await keyPair("k2");
  const impostor = await keyPair("k1"); // the known kid, another key
  const app = await serviceWith(t, { jwt: { jwksUrl: await serveJwks(t, [key.jwk]), issuer, audience } });
  const now = Math.floor(Date.now() / 1000);
  const cases: [string, string, TokenErrorCode][] = [
    ["expired", await sign(key.privateKey, key.kid, {}, { iat: now - 600, exp: now - 300 }), "TOKEN_EXPIRED"],
    ["issued too long ago", await sign(key.privateKey, key.kid, {}, { iat: now - 3600, exp: now + 3600 }), "TOKEN_EXPIRED"],
    ["unknown key", await sign(stranger.privateKey, stranger.kid), "TOKEN_SIGNATURE_INVALID"],
    ["known kid, wrong key", await sign(impostor.privateKey, impostor.kid), "TOKEN_SIGNATURE_INVALID"],
    ["audience", await sign(key.privateKey, key.kid, { aud: "billing" }), "TOKEN_AUDIENCE_INVALID"],
    ["issuer", await sign(key.privateKey, key.kid, { iss: "http://elsewhere.test" }), "TOKEN_ISSUER_INVALID"],
    ["no subject", await new SignJWT({ clinic: "c" }).setProtectedHeader({ alg: "EdDSA", kid: "k1" }).setAudience(audience).setIssuer(issuer).setIssuedAt().setExpirationTime("5m").sign(key.privateKey), "TOKEN_CLAIMS_INVALID"],
    ["not valid yet", await new SignJWT({ sub: "u" }).setProtectedHeader({ alg: "EdDSA", kid: "k1" }).setAudience(audience).setIssuer(issuer).setIssuedAt().setNotBefore(now + 600).setExpirationTime("5m").sign(key.privateKey), "TOKEN_CLAIMS_INVALID"],
    ["unsigned (alg none)", `${Buffer.from('{"alg":"none"}').toString("base64url")}.${Buffer.from(JSON.stringify({ sub: "u", aud: audience, iss: issuer, exp: now + 60, iat: now })).toString("base64url")}.`, "TOKEN_SIGNATURE_INVALID"],
    ["HS256", await new SignJWT({ sub: "u" }).setProtectedHeader({ alg: "HS256" }).setAudience(audience).setIssuer(issuer).setIssuedAt().setExpirationTime("5m").sign(new TextEncoder().encode("a-shared-secret-a-shared-secret-32")), "TOKEN_SIGNATURE_INVALID"],
    ["not a JWT", "not-a-jwt", "TOKEN_MALFORMED"],
  ];
  for (const [label, token, tokenError] of cases) {
    const response = await get(app, "/session", token);
    t.equal(response.statusCode, 401, label);
    t.same(response.json(), { error: "The bearer token is not valid", code: "UNAUTHENTICATED", message: "The bearer token is not valid" }, label);
    t.equal(
      response.headers["www-authenticate"],
      `Bearer realm="temetro", error="invalid_token", error_description="${tokenError}"`,
      `${label}: the header names the failed check`,
    );
  }
});

t.test("the core's verifyToken says which check a refused token failed, with the registry's message", async (t) => {
  const key = await keyPair("k1");
  const { verifyToken } = createTokenVerifier({ jwksUrl: await serveJwks(t, [key.jwk]), issuer, audience });
  const now = Math.floor(Date.now() / 1000);
  for (const [token, code, claim] of [
    [await sign(key.privateKey, key.kid, {}, { iat: now - 600, exp: now - 300 }), "TOKEN_EXPIRED", "exp"],
    [await sign(key.privateKey, key.kid, {}, { iat: now - 3600, exp: now + 3600 }), "TOKEN_EXPIRED", "iat"],
    [await sign(key.privateKey, key.kid, { aud: "billing" }), "TOKEN_AUDIENCE_INVALID", "aud"],
    [await sign(key.privateKey, key.kid, { iss: "http://elsewhere.test" }), "TOKEN_ISSUER_INVALID", "iss"],
    [await sign((await keyPair("k1")).privateKey, key.kid), "TOKEN_SIGNATURE_INVALID", undefined],
  ] as const) {
    const refused = await verifyToken(token).then(
      () => undefined,
      (error: unknown) => error,
    );
    t.type(refused, InvalidTokenError, code);
    t.match(refused, { code, claim, message: errorCodes[code].message }, code);
  }
  t.match(await verifyToken(await sign(key.privateKey, key.kid)), { via: "jwt", user: { id: "user-1" }, clinic: { id: "clinic-1", role: "pharmacy" } });
});

t.test("the key set unreachable: 503 AUTH_UNAVAILABLE", async (t) => {
  const key = await keyPair("k1");
  const jwksUrl = await serveJwks(t, [key.jwk]);
  const app = await serviceWith(t, { jwt: { jwksUrl: jwksUrl.replace("/api/auth/jwks", "/nothing-here"), issuer, audience } });
  const response = await get(app, "/session", await sign(key.privateKey, key.kid));
  t.equal(response.statusCode, 503);
  t.equal(response.json().code, "AUTH_UNAVAILABLE");
});

t.test("without jwt options a bearer header is ignored: the cookie decides", async (t) => {
  const app = Fastify();
  // Nothing listens on port 9 (discard): a request that reached introspection would get a 503.
  await app.register(temetroAuth, { introspectionUrl: "http://127.0.0.1:9/internal/v1/introspect" });
  app.get("/session", { onRequest: requireSession }, async (request) => request.auth);
  t.teardown(() => app.close());
  const response = await get(app, "/session", "anything");
  t.equal(response.statusCode, 401, "no cookie: nobody, without asking the auth service");
});

t.test("options are checked when the plugin is registered; hooks need the plugin", async (t) => {
  const key = await keyPair("k1");
  for (const options of [
    { introspectionUrl: "http://127.0.0.1:9/", cacheTtlMs: -1 },
    { introspectionUrl: "http://127.0.0.1:9/", timeoutMs: 0 },
    { introspectionUrl: "http://127.0.0.1:9/", jwt: { jwksUrl: "http://127.0.0.1:9/", issuer, audience, algorithms: ["none"] } },
  ]) {
    const app = Fastify();
    t.teardown(() => app.close());
    await t.rejects(async () => app.register(temetroAuth, options).ready(), TypeError, JSON.stringify(options));
  }
  const bare = Fastify();
  bare.get("/session", { onRequest: requireSession }, async () => ({}));
  t.teardown(() => bare.close());
  const response = await bare.inject({ method: "GET", url: "/session", headers: { authorization: `Bearer ${await sign(key.privateKey, key.kid)}` } });
  t.equal(response.statusCode, 500);
});
