// Short-lived tokens for calls between services: GET /api/auth/token, keys at GET /api/auth/jwks.
import { createLocalJWKSet, decodeProtectedHeader, generateKeyPair, jwtVerify, SignJWT, type JSONWebKeySet } from "jose";
import type { FastifyInstance } from "fastify";
import t from "tap";
import { buildTestApp } from "@temetro/test-support/auth-app";
import { cookieOf, createClinic, createStaff, signUp } from "@temetro/test-support/auth-requests";

const ISSUER = "http://localhost:4000";
const AUDIENCE = "temetro";

async function tokenOf(app: FastifyInstance, cookie: string): Promise<string> {
  const response = await app.inject({ method: "GET", url: "/api/auth/token", headers: { cookie } });
  if (response.statusCode !== 200) throw new Error(`token: ${response.statusCode} ${response.body}`);
  return response.json().token;
}

async function jwksOf(app: FastifyInstance): Promise<JSONWebKeySet> {
  const response = await app.inject({ method: "GET", url: "/api/auth/jwks" });
  if (response.statusCode !== 200) throw new Error(`jwks: ${response.statusCode}`);
  return response.json();
}

const verify = (token: string, jwks: JSONWebKeySet, options: Parameters<typeof jwtVerify>[2] = {}) =>
  jwtVerify(token, createLocalJWKSet(jwks), { issuer: ISSUER, audience: AUDIENCE, algorithms: ["EdDSA"], ...options });

t.test("a token carries subject, clinic, role, issuer and audience, nothing else about the user, for 5 minutes at most", async (t) => {
  const { app } = await buildTestApp(t);
  const owner = await signUp(app, { name: "Dr. Amina Yusuf" });
  const clinic = await createClinic(app, owner.cookie);
  const token = await tokenOf(app, owner.cookie);

  const { payload, protectedHeader } = await verify(token, await jwksOf(app));
  t.equal(protectedHeader.alg, "EdDSA");
  t.equal(payload.sub, owner.userId);
  t.equal(payload.clinic, clinic.id);
  t.equal(payload.role, "owner");
  t.equal(payload.iss, ISSUER);
  t.equal(payload.aud, AUDIENCE);
  t.ok(payload.exp! - payload.iat! <= 300, "lives 5 minutes at most");
  t.same(Object.keys(payload).sort(), ["aud", "clinic", "exp", "iat", "iss", "role", "sub"]);
  t.notOk(token.includes(Buffer.from(owner.email).toString("base64url").slice(0, 12)), "no email inside");
});

t.test("without a session there is no token", async (t) => {
  const { app } = await buildTestApp(t);
  const response = await app.inject({ method: "GET", url: "/api/auth/token" });
  t.equal(response.statusCode, 401);
  t.type(response.json().code, "string");
});

t.test("an expired token, another audience or another issuer is refused", async (t) => {
  const { app } = await buildTestApp(t);
  const { cookie } = await signUp(app);
  const token = await tokenOf(app, cookie);
  const jwks = await jwksOf(app);
  await t.rejects(verify(token, jwks, { currentDate: new Date(Date.now() + 6 * 60 * 1000) }), { code: "ERR_JWT_EXPIRED" });
  await t.rejects(verify(token, jwks, { audience: "billing" }), { code: "ERR_JWT_CLAIM_VALIDATION_FAILED" });
  await t.rejects(verify(token, jwks, { issuer: "https://elsewhere.example" }), { code: "ERR_JWT_CLAIM_VALIDATION_FAILED" });
});

t.test("a token signed by a key the JWKS does not publish is refused, even under a published key id", async (t) => {
  const { app } = await buildTestApp(t);
  const { cookie } = await signUp(app);
  const genuine = await tokenOf(app, cookie);
  const jwks = await jwksOf(app);
  const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
  const claims = (await verify(genuine, jwks)).payload;
  for (const kid of [decodeProtectedHeader(genuine).kid, "unknown-key-id"]) {
    const forged = await new SignJWT({ ...claims, role: "owner" }).setProtectedHeader({ alg: "EdDSA", kid }).sign(privateKey);
    await t.rejects(verify(forged, jwks), `kid ${kid}`);
  }
  // And an unsigned token is not accepted.
  const unsigned = `${Buffer.from(JSON.stringify({ alg: "none" })).toString("base64url")}.${genuine.split(".")[1]}.`;
  await t.rejects(verify(unsigned, jwks));
});

t.test("keys rotate without breaking tokens already issued", async (t) => {
  const { app } = await buildTestApp(t);
  const { cookie } = await signUp(app);
  const before = await tokenOf(app, cookie);
  const firstKid = decodeProtectedHeader(before).kid;

  // The rotation interval passes: the current key reaches its expiry.
  await app.pg.query(`UPDATE "jwks" SET "expiresAt" = now() - interval '1 second' WHERE "id" = $1`, [firstKid]);
  const after = await tokenOf(app, cookie);
  const secondKid = decodeProtectedHeader(after).kid;
  t.not(secondKid, firstKid, "a new key signs new tokens");

  const jwks = await jwksOf(app);
  const published = jwks.keys.map((key) => key.kid);
  t.ok(published.includes(firstKid) && published.includes(secondKid), "both keys are published");
  t.ok((await verify(before, jwks)).payload.sub, "a token of the retired key still verifies");
  t.ok((await verify(after, jwks)).payload.sub);
});

t.test("no token while an admin-set initial password is still to be replaced", async (t) => {
  const { app } = await buildTestApp(t);
  const owner = await signUp(app);
  await createClinic(app, owner.cookie);
  const staff = await createStaff(app, owner.cookie, { role: "reception" });
  const signIn = await app.inject({
    method: "POST",
    url: "/api/auth/sign-in/username",
    payload: { username: staff.username, password: staff.password },
  });
  const cookie = cookieOf(signIn);
  const refused = await app.inject({ method: "GET", url: "/api/auth/token", headers: { cookie } });
  t.equal(refused.statusCode, 403);
  t.equal(refused.json().code, "PASSWORD_CHANGE_REQUIRED");
  t.notOk(refused.json().token);

  const newPassword = "a-password-of-my-own-choosing";
  const change = await app.inject({
    method: "POST",
    url: "/api/auth/change-password",
    headers: { cookie },
    payload: { currentPassword: staff.password, newPassword },
  });
  t.equal(change.statusCode, 200);
  const granted = await app.inject({ method: "GET", url: "/api/auth/token", headers: { cookie: cookieOf(change) || cookie } });
  t.equal(granted.statusCode, 200);
  t.type(granted.json().token, "string");
});
