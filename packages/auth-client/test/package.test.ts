// @temetro/auth-client as another team's service gets it: packed, installed from the tarball into a
// project outside this repository, compiled with tsc and run with plain node against the real auth
// service (PostgreSQL, Redis) over HTTP; and a web app that installs it beside better-auth and
// compiles against its browser entry.
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import t, { type Test } from "tap";
import { buildInternalApp } from "@temetro/auth/internal-app";
import { buildTestApp } from "@temetro/test-support/auth-app";
import { addMember, createClinic, signUp } from "@temetro/test-support/auth-requests";
import { outputMatch, startCollected } from "@temetro/test-support/processes";
import { compile, outsideEnv, outsideProject, packClient, run, type PackedClient } from "./fixtures/outside-project.js";

/** The workspace's installed versions: what the outside project's lockfile pins. */
const typesNode = "20.19.43";
const fastifyVersion = "5.12.8";
const betterAuthVersion = "1.7.25";

const urlOf = (server: FastifyInstance) => {
  const address = server.server.address();
  if (!address || typeof address === "string") throw new Error("not listening");
  return `http://127.0.0.1:${address.port}`;
};

/** The real auth service, listening: its public and its internal listener. */
async function startAuthService(t: Test) {
  const { app, config } = await buildTestApp(t);
  const internal = await buildInternalApp(app);
  await app.listen({ host: "127.0.0.1", port: 0 });
  await internal.listen({ host: "127.0.0.1", port: 0 });
  t.teardown(() => internal.close());
  return {
    app,
    env: {
      INTROSPECTION_URL: `${urlOf(internal)}/internal/v1/introspect`,
      JWKS_URL: `${urlOf(app)}/api/auth/jwks`,
      ISSUER: config.betterAuthUrl,
      AUDIENCE: config.jwtAudience,
    },
  };
}

async function tokenOf(auth: FastifyInstance, cookie: string): Promise<string> {
  const response = await auth.inject({ method: "GET", url: "/api/auth/token", headers: { cookie } });
  if (response.statusCode !== 200) throw new Error(`token failed: ${response.statusCode} ${response.body}`);
  return response.json().token as string;
}

// Two offline installs and two compilations: minutes on a busy machine, more than the suite's 120 s.
t.setTimeout(360_000);

let packed: PackedClient;
t.before(() => {
  packed = packClient(t);
});

t.test("npm pack ships compiled JavaScript with declarations, and no tests or TypeScript sources", async (t) => {
  const { files, manifest } = packed;
  t.same(files.filter((file) => /(^|\/)test\//.test(file)), [], "no test files");
  t.same(files.filter((file) => file.endsWith(".ts") && !file.endsWith(".d.ts")), [], "no .ts sources");
  for (const entry of ["index", "core", "roles", "error-codes", "web", "access-control", "additional-fields"]) {
    t.ok(files.includes(`dist/${entry}.js`), `dist/${entry}.js`);
    t.ok(files.includes(`dist/${entry}.d.ts`), `dist/${entry}.d.ts`);
  }
  for (const [subpath, conditions] of Object.entries(manifest.exports)) {
    t.match(conditions.default, /^\.\/dist\/.+\.js$/, `${subpath} runs from dist`);
    t.match(conditions.types, /^\.\/dist\/.+\.d\.ts$/, `${subpath} is typed from dist`);
    t.ok(files.includes(conditions.default!.slice(2)), `${subpath}: ${conditions.default} is in the tarball`);
    t.ok(files.includes(conditions.types!.slice(2)), `${subpath}: ${conditions.types} is in the tarball`);
  }
});

const coreService = `
import { checkPermission, createAuthenticator, createTokenVerifier, InvalidTokenError, responseOf, AuthRefusal } from "@temetro/auth-client/core";

const env = process.env;
const jwt = { jwksUrl: env.JWKS_URL!, issuer: env.ISSUER!, audience: env.AUDIENCE! };
const authenticator = createAuthenticator({ introspectionUrl: env.INTROSPECTION_URL!, jwt });

const refusalOf = (error: unknown) => (error instanceof AuthRefusal ? responseOf(error) : { unexpected: String(error) });

const bySession = await authenticator.authenticate({ cookie: env.LAB_COOKIE });
const byToken = await authenticator.authenticate({ authorization: "Bearer " + env.LAB_TOKEN });
const readPatients = checkPermission(byToken, { patient: ["read"] });
let writePatients;
try {
  checkPermission(bySession, { patient: ["write"] });
} catch (error) {
  writePatients = refusalOf(error);
}
let anonymous;
try {
  checkPermission(await authenticator.authenticate({}), { patient: ["read"] });
} catch (error) {
  anonymous = refusalOf(error);
}
const { verifyToken } = createTokenVerifier({ ...jwt, audience: "billing" });
const otherAudience = await verifyToken(env.LAB_TOKEN!).then(
  () => "accepted",
  (error: unknown) => (error instanceof InvalidTokenError ? { code: error.code, claim: error.claim } : String(error)),
);
console.log(JSON.stringify({ bySession, byToken, readPatients, writePatients, anonymous, otherAudience }));
`;

t.test("a service outside the repository, without Fastify, compiles against the core and runs with plain node", async (t) => {
  const service = await startAuthService(t);
  const owner = await signUp(service.app);
  const clinic = await createClinic(service.app, owner.cookie);
  const lab = await addMember(service.app, owner.cookie, clinic.id, "lab");
  const labToken = await tokenOf(service.app, lab.cookie);

  const dir = outsideProject(t, packed, { "@types/node": typesNode });
  t.throws(() => run("node", ["-e", "import('fastify')"], dir), "Fastify is not installed: the core needs none of it");
  compile(dir, { "main.ts": coreService });
  const collected = startCollected("node", [join(dir, "dist/main.js")], {
    cwd: dir,
    env: outsideEnv({ ...service.env, LAB_COOKIE: lab.cookie, LAB_TOKEN: labToken }),
  });
  const [exitCode] = await collected.exited;
  t.equal(exitCode, 0, collected.output());
  const answer = JSON.parse(collected.output());
  t.match(answer.bySession, { via: "session", user: { id: lab.userId }, clinic: { id: clinic.id, role: "lab" } });
  t.match(answer.byToken, { via: "jwt", user: { id: lab.userId }, clinic: { id: clinic.id, role: "lab" } });
  t.same(answer.readPatients.permissions.patient, ["read"]);
  t.match(answer.writePatients, { statusCode: 403, body: { code: "FORBIDDEN" } }, "lab may not write patients");
  t.match(answer.anonymous, { statusCode: 401, body: { code: "UNAUTHENTICATED" } });
  t.same(answer.otherAudience, { code: "TOKEN_AUDIENCE_INVALID", claim: "aud" }, "the refusal names the audience");
});

const fastifyService = `
import Fastify from "fastify";
import temetroAuth, { requirePermission } from "@temetro/auth-client";

const env = process.env;
const app = Fastify();
await app.register(temetroAuth, {
  introspectionUrl: env.INTROSPECTION_URL!,
  jwt: { jwksUrl: env.JWKS_URL!, issuer: env.ISSUER!, audience: env.AUDIENCE! },
});
app.get("/patients", { onRequest: [requirePermission({ patient: ["read"] })] }, async (request) => ({ clinic: request.auth!.clinic!.id }));
const address = await app.listen({ host: "127.0.0.1", port: 0 });
console.log("listening at " + address);
`;

t.test("a Fastify service outside the repository registers the plugin from the tarball and guards its routes", async (t) => {
  const service = await startAuthService(t);
  const owner = await signUp(service.app);
  const clinic = await createClinic(service.app, owner.cookie);

  const dir = outsideProject(t, packed, { "@types/node": typesNode, fastify: fastifyVersion });
  compile(dir, { "server.ts": fastifyService });
  const collected = startCollected("node", [join(dir, "dist/server.js")], { cwd: dir, env: outsideEnv(service.env) });
  t.teardown(async () => {
    if (collected.child.exitCode !== null) return;
    collected.child.kill("SIGTERM");
    await collected.exited;
  });
  const [, address] = await outputMatch(collected, /listening at (http:\/\/127\.0\.0\.1:\d+)/, "listening");

  const withCookie = await fetch(`${address}/patients`, { headers: { cookie: owner.cookie } });
  t.equal(withCookie.status, 200);
  t.same(await withCookie.json(), { clinic: clinic.id });
  const withToken = await fetch(`${address}/patients`, { headers: { authorization: `Bearer ${await tokenOf(service.app, owner.cookie)}` } });
  t.equal(withToken.status, 200);
  const anonymous = await fetch(`${address}/patients`);
  t.equal(anonymous.status, 401);
  t.same(await anonymous.json(), { error: "Sign in first: no valid session", code: "UNAUTHENTICATED", message: "Sign in first: no valid session" });
});

const webApp = `
import { createAuthClient } from "better-auth/client";
import { assignableRoles, temetroClientPlugins, type PermissionQuery } from "@temetro/auth-client/web";

const auth = createAuthClient({ baseURL: "http://127.0.0.1:9", basePath: "/api/auth", plugins: [...temetroClientPlugins()] });

export async function inviteDoctor(email: string) {
  return auth.organization.inviteMember({ email, role: "doctor" });
}

export async function mistakes() {
  // @ts-expect-error a role temetro does not have
  await auth.organization.inviteMember({ email: "nurse@example.com", role: "nurse" });
  // @ts-expect-error a resource temetro does not have
  await auth.organization.hasPermission({ permissions: { spaceship: ["read"] } });
  // @ts-expect-error the clinic's extra field is a boolean
  await auth.organization.update({ data: { staffMustChangePassword: "no" } });
  const session = await auth.getSession();
  // @ts-expect-error the user's extra field is a boolean
  const flag: string | undefined = session.data?.user.mustChangePassword;
  return flag;
}

const doctor = (permissions: PermissionQuery) =>
  auth.organization.checkRolePermission({ role: "doctor", permissions });
console.log(JSON.stringify({ readPatients: doctor({ patient: ["read"] }), deletePatients: doctor({ patient: ["delete"] }), assignableRoles }));
`;

t.test("a web app outside the repository, with better-auth beside the package, compiles against ./web as browser code and runs", async (t) => {
  t.match(packed.manifest.peerDependencies, { "better-auth": "~1.7.25" }, "better-auth is a peer, in the service's range");
  const dir = outsideProject(t, packed, { "better-auth": betterAuthVersion });
  // A web app's compiler settings: the DOM library and no Node types; the @ts-expect-error lines must
  // fail. skipLibCheck as web apps set it: Better Auth's own declarations name Node modules
  // (node:async_hooks, node:sqlite) that a browser project has no types for.
  compile(dir, { "main.ts": webApp }, { lib: ["ES2023", "DOM"], types: [], skipLibCheck: true });
  const { stdout } = run("node", [join(dir, "dist/main.js")], dir);
  t.same(JSON.parse(stdout), {
    readPatients: true,
    deletePatients: false,
    assignableRoles: ["admin", "doctor", "member", "reception", "pharmacy", "lab"],
  });
});
