// The API documents, as another team's developer reads them: GET /api/openapi.json (Better Auth's
// routes and the service's own, in one OpenAPI 3.1 document), the reference page at /api/reference,
// and the internal listener's /internal/openapi.json. No session is needed for any of them; both
// documents pass an OpenAPI validator; every route the listeners serve is in one of them.
import { Validator } from "@seriousme/openapi-schema-validator";
import type { FastifyInstance } from "fastify";
import t, { type Test } from "tap";
import { buildInternalApp } from "../src/internal-app.js";
import { buildTestApp } from "@temetro/test-support/auth-app";
import { createClinic, signUp } from "@temetro/test-support/auth-requests";
import { betterAuthRoutesOf, fastifyRoutesOf, recordRoutesOfNewInstances, type FuzzRoute } from "./fuzz/routes.js";

recordRoutesOfNewInstances();

const INTERNAL_TOKEN = "openapi-internal-token-that-is-long-enough-0123";

type Operation = { security?: Record<string, string[]>[]; requestBody?: unknown; tags?: string[] };
type Document = {
  openapi: string;
  info: { version: string };
  paths: Record<string, Record<string, Operation>>;
  components?: { securitySchemes?: Record<string, { name?: string }> };
};

async function listeners(t: Test) {
  const { app } = await buildTestApp(t, { env: { INTERNAL_TOKEN } });
  const internal = await buildInternalApp(app);
  t.teardown(() => internal.close());
  await internal.ready();
  return { app, internal };
}

async function documentOf(app: FastifyInstance, url: string, headers: Record<string, string> = {}): Promise<Document> {
  const response = await app.inject({ method: "GET", url, headers });
  if (response.statusCode !== 200) throw new Error(`${url} answered ${response.statusCode}: ${response.body}`);
  return response.json();
}

/** The validator's verdict, with its complaints in the failure message. */
async function validationOf(document: Document) {
  const validator = new Validator();
  const result = await validator.validate(structuredClone(document) as unknown as Parameters<Validator["validate"]>[0]);
  return { valid: result.valid, errors: JSON.stringify(result.errors, null, 1)?.slice(0, 2000), version: validator.version };
}

/** Every `$ref` in the document, and whether it points at something in it. */
function danglingRefs(document: Document): string[] {
  const dangling: string[] = [];
  const walk = (node: unknown) => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!node || typeof node !== "object") return;
    for (const [key, value] of Object.entries(node)) {
      if (key === "$ref" && typeof value === "string") {
        const target = value
          .replace(/^#\//, "")
          .split("/")
          .reduce<unknown>((at, part) => (at as Record<string, unknown> | undefined)?.[part.replace(/~1/g, "/").replace(/~0/g, "~")], document);
        if (target === undefined) dangling.push(value);
      } else walk(value);
    }
  };
  walk(document);
  return dangling;
}

/**
 * `/api/staff/:userId` → `/api/staff/{userId}`, as OpenAPI writes a path; a plugin's root under a
 * prefix (`/api/reference/`) is the prefix itself, which Fastify serves too.
 */
const openApiPath = (path: string) => path.replace(/:([A-Za-z0-9_]+)/g, "{$1}").replace(/(.)\/$/, "$1");

t.test("GET /api/openapi.json answers a valid OpenAPI 3.1 document without a session, with Better Auth's routes and the service's own", async (t) => {
  const { app } = await listeners(t);
  const document = await documentOf(app, "/api/openapi.json");
  const verdict = await validationOf(document);
  t.ok(verdict.valid, `the validator accepts it${verdict.valid ? "" : `: ${verdict.errors}`}`);
  t.equal(verdict.version, "3.1", "as OpenAPI 3.1");
  t.same(danglingRefs(document), [], "every $ref points into the document");

  // Better Auth's routes carry their base path, as a client calls them.
  t.ok(document.paths["/api/auth/sign-in/email"]?.post?.requestBody, "POST /api/auth/sign-in/email, with its body");
  t.ok(document.paths["/api/auth/organization/invite-member"]?.post, "the organization plugin's routes");
  t.ok(document.paths["/api/auth/forget-password"]?.post, "the spec's forget-password, which the service adds");
  t.notOk(document.paths["/sign-in/email"], "no path without the base path");
  // The service's own, from their Fastify schemas.
  t.ok(document.paths["/api/staff"]?.post?.requestBody, "POST /api/staff, with its body");
  t.ok(document.paths["/api/staff/{userId}"]?.patch, "PATCH /api/staff/{userId}");
  t.same(document.paths["/api/staff"]?.get?.security, [{ sessionCookie: [] }], "a guarded route takes the session cookie");
  t.notOk(document.paths["/api/auth-helpers/reset-by-username"]?.post?.security, "the public helper takes none");
  t.equal(document.components?.securitySchemes?.sessionCookie?.name, "better-auth.session_token", "the cookie a sign-in sets");

  // What a client gets from the documents is what the routes do.
  const staffBody = (document.paths["/api/staff"]!.post!.requestBody as { content: Record<string, { schema: { required: string[] } }> }).content["application/json"]!.schema;
  t.same([...staffBody.required].sort(), ["name", "password", "role", "username"], "POST /api/staff's required fields");

  // The same document with a session as without one.
  const { cookie } = await signUp(app);
  t.same(await documentOf(app, "/api/openapi.json", { cookie }), document, "the same document for a signed-in user");
});

t.test("GET /internal/openapi.json on the internal listener answers a valid OpenAPI 3.1 document without the internal token", async (t) => {
  const { internal } = await listeners(t);
  const document = await documentOf(internal, "/internal/openapi.json");
  const verdict = await validationOf(document);
  t.ok(verdict.valid, `the validator accepts it${verdict.valid ? "" : `: ${verdict.errors}`}`);
  t.equal(verdict.version, "3.1", "as OpenAPI 3.1");
  t.same(danglingRefs(document), [], "every $ref points into the document");
  t.ok(document.paths["/internal/v1/introspect"]?.post?.requestBody, "introspection, with its body");
  t.ok(document.paths["/metrics"]?.get, "the metrics scrape");
});

t.test("every route the two listeners serve, with each of its methods, is in one of the documents", async (t) => {
  const { app, internal } = await listeners(t);
  const publicDocument = await documentOf(app, "/api/openapi.json");
  const internalDocument = await documentOf(internal, "/internal/openapi.json");
  const documented = (method: string, path: string) =>
    [publicDocument, internalDocument].some((document) => document.paths[openApiPath(path)]?.[method.toLowerCase()] !== undefined);

  // Routes that are no operation of the API, each for a stated reason.
  const notOperations = (route: FuzzRoute, method: string) =>
    // The adapter that forwards to Better Auth: its endpoints stand for it (betterAuthRoutesOf).
    route.path === "/api/auth/*" ||
    // CORS preflights, which @fastify/cors answers for every path.
    method === "OPTIONS" ||
    // The reference page's own files (swagger-ui's script, styles, its copy of the document).
    (route.path.startsWith("/api/reference/") && openApiPath(route.path) !== "/api/reference");

  const served = [
    ...fastifyRoutesOf(app),
    ...betterAuthRoutesOf(app),
    ...fastifyRoutesOf(internal),
  ];
  let checked = 0;
  for (const route of served) {
    for (const method of route.methods) {
      if (notOperations(route, method)) continue;
      // Fastify answers HEAD for every GET: documented by the GET.
      const documentedAs = method === "HEAD" ? "GET" : method;
      t.ok(documented(documentedAs, route.path), `${method} ${route.path}`);
      checked++;
    }
  }
  t.ok(checked > 80, `${checked} operations checked`);
  for (const route of ["POST /api/auth/sign-up/email", "GET /api/clinic", "DELETE /api/staff/{userId}/lockout", "GET /health/ready", "GET /api/reference", "POST /internal/v1/introspect"]) {
    const [method, path] = route.split(" ") as [string, string];
    t.ok(served.some((one) => openApiPath(one.path) === path && one.methods.includes(method)), `${route} is among the routes enumerated`);
  }
});

t.test("the reference page shows the document without a session, loading every file from the service itself", async (t) => {
  const { app } = await listeners(t);
  const page = await app.inject({ method: "GET", url: "/api/reference" });
  t.equal(page.statusCode, 200);
  t.match(page.headers["content-type"], /^text\/html/);
  const linked = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1]!);
  t.ok(linked.length >= 3, `the page links its script and styles: ${linked.join(", ")}`);
  t.notOk(/(?:src|href)="(?:https?:)?\/\//.test(page.body), "nothing from another origin");
  for (const file of linked) {
    const url = new URL(file, "http://localhost:4000/api/reference/").pathname;
    const answer = await app.inject({ method: "GET", url });
    t.equal(answer.statusCode, 200, `${url} is served`);
  }
  // The page's script asks for the document beside it: the same one as /api/openapi.json.
  const initializer = await app.inject({ method: "GET", url: "/api/reference/static/swagger-initializer.js" });
  t.match(initializer.body, /resolveUrl\('\.\/json'\)/);
  t.same((await app.inject({ method: "GET", url: "/api/reference/json" })).json(), await documentOf(app, "/api/openapi.json"));
});

t.test("Better Auth's own reference page (Scalar from a CDN) and its schema route are not served", async (t) => {
  const { app } = await listeners(t);
  for (const url of ["/api/auth/reference", "/api/auth/open-api/generate-schema"]) {
    const answer = await app.inject({ method: "GET", url });
    t.equal(answer.statusCode, 404, url);
    t.notMatch(answer.body, /cdn\.jsdelivr|"openapi"/, `${url} shows neither`);
  }
});

t.test("a clinic's owner and a stranger read the same document: the documents hold no one's data", async (t) => {
  const { app } = await listeners(t);
  const owner = await signUp(app);
  await createClinic(app, owner.cookie);
  const asOwner = await app.inject({ method: "GET", url: "/api/openapi.json", headers: { cookie: owner.cookie } });
  t.equal(asOwner.statusCode, 200);
  t.notMatch(asOwner.body, owner.email, "no address of the caller");
  t.same(asOwner.json(), await documentOf(app, "/api/openapi.json"));
});

t.test("behind https the document names the server and the __Secure- cookie a sign-in sets there", async (t) => {
  const { app } = await buildTestApp(t, { env: { BETTER_AUTH_URL: "https://auth.clinic.example" } });
  const document = (await documentOf(app, "/api/openapi.json")) as Document & { servers: { url: string }[] };
  t.same(document.servers, [{ url: "https://auth.clinic.example" }]);
  t.equal(document.components?.securitySchemes?.sessionCookie?.name, "__Secure-better-auth.session_token");
});

t.test("PostgreSQL away at start: the service starts, and a document answers 503 until it can be generated", async (t) => {
  const { app } = await buildTestApp(t, { env: { DATABASE_URL: "postgres://postgres@127.0.0.1:1/unreachable" } });
  const response = await app.inject({ method: "GET", url: "/api/openapi.json" });
  t.equal(response.statusCode, 503);
  t.equal(response.json().code, "SERVICE_UNAVAILABLE");
  t.ok(response.headers["retry-after"], "with Retry-After");
});
