import { readFileSync } from "node:fs";
import swagger, { type FastifyDynamicSwaggerOptions } from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { betterAuthDocument, sessionCookieScheme, type OpenApiDocument } from "./better-auth-document.js";

/**
 * The API's documents, generated from what the listeners serve: each route's own schema
 * (@fastify/swagger collects them as they are registered, so register this before the routes),
 * and on the public listener Better Auth's routes from its generator, merged into one document.
 * Public docs: no session, no token (rate limited with the rest of /api).
 *
 *   public:   GET /api/openapi.json, GET /api/reference (swagger-ui, its assets served from the package)
 *   internal: GET /internal/openapi.json
 */

/** The version of the service, which the document's `info.version` is (see CHANGELOG.md). */
const serviceVersion = (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;

type SwaggerDocument = ReturnType<NonNullable<FastifyDynamicSwaggerOptions["transformObject"]>>;

const PUBLIC_DOCUMENT = "/api/openapi.json";
const REFERENCE_PAGE = "/api/reference";
const INTERNAL_DOCUMENT = "/internal/openapi.json";

/** Every 4xx and 5xx of the service, whichever route answers it (plugins/errors.ts). */
const ErrorBody = {
  type: "object" as const,
  required: ["error", "code"],
  properties: {
    error: { type: "string" as const, description: "What went wrong, for people." },
    code: { type: "string" as const, description: "Stable: clients switch on it (the README's Errors table)." },
    message: { type: "string" as const, description: "The same text as `error`." },
  },
};

/** Tags of the service's own routes, by the first segments of their paths. */
const tagsByPrefix: [prefix: string, tag: string][] = [
  ["/api/auth-helpers/", "Password reset"],
  ["/api/staff", "Staff"],
  ["/api/clinic", "Clinic"],
  ["/api/audit", "Audit"],
  ["/api/openapi.json", "Documentation"],
  ["/internal/openapi.json", "Documentation"],
  ["/internal/", "Introspection"],
  ["/health/", "Health"],
  ["/metrics", "Metrics"],
];

const tagOf = (url: string) => tagsByPrefix.find(([prefix]) => url.startsWith(prefix))?.[1];

/** Each route of ours with its tag and its error answers; routes that say who may call them keep it. */
const describeRoute: FastifyDynamicSwaggerOptions["transform"] = ({ schema, url }) => {
  const tag = tagOf(url);
  const described = schema as Record<string, unknown> | undefined;
  return {
    url,
    schema: {
      ...described,
      ...(tag && !described?.tags ? { tags: [tag] } : {}),
      // Answered only when no route schema names the status (a 503 of /health/ready has its own).
      response: { ...(described?.response as object | undefined), default: { description: "An error", ...ErrorBody } },
    },
  };
};

const openapiBase = (description: string) => ({
  openapi: "3.1.0",
  info: { title: "temetro-auth", version: serviceVersion, description },
  components: { schemas: { Error: ErrorBody } },
});

export const publicApiDocs = fp(
  async (app: FastifyInstance) => {
    const basePath = "/api/auth";
    let betterAuth: OpenApiDocument | undefined;
    // Better Auth is registered after this plugin (which must see the routes registered after it):
    // its part of the document is generated once everything is. Generating it runs Better Auth's
    // endpoint machinery, which takes a PostgreSQL connection: PostgreSQL away at boot must not
    // stop the service, so a failed attempt is tried again by the first request for a document
    // (which then answers 503 like any request that needs PostgreSQL).
    const betterAuthPart = async () => {
      if (!betterAuth) {
        const sessionCookie = (await app.auth.$context).authCookies.sessionToken.name;
        betterAuth = await betterAuthDocument(app.auth, sessionCookie);
      }
      return betterAuth;
    };
    app.addHook("onReady", async () => {
      await betterAuthPart().catch((error: unknown) =>
        app.log.warn({ reason: (error as Error | null)?.message }, "API document not generated at start: the first request for it tries again"),
      );
    });
    app.addHook("onRequest", async (request) => {
      if (request.url === PUBLIC_DOCUMENT || request.url.startsWith(REFERENCE_PAGE)) await betterAuthPart();
    });

    await app.register(swagger, {
      openapi: {
        ...openapiBase(
          "temetro's authentication service: Better Auth's routes under /api/auth (sign-in, sessions, clinics as organizations), " +
            "the clinic data routes under /api (behind the clinic guard), and the public helpers. Every error is " +
            "JSON with a stable `code` (the README's Errors table). Compatibility: see the README's Compatibility section.",
        ),
        servers: [{ url: new URL(app.config.betterAuthUrl).origin }],
        components: {
          schemas: { Error: ErrorBody },
          // Named as Better Auth names it (a `__Secure-` prefix over https) when the documents merge.
          securitySchemes: { sessionCookie: sessionCookieScheme("better-auth.session_token") },
        },
      },
      transform: (route) => {
        // Better Auth's routes (and the adapter that forwards to them) are described by its own
        // document, merged below.
        if (route.url === basePath || route.url.startsWith(`${basePath}/`)) return { schema: { hide: true }, url: route.url };
        return describeRoute(route);
      },
      transformObject: (documents) => {
        if (!betterAuth) throw new Error("the API document is asked for before the app is ready");
        const own = (documents as { openapiObject: unknown }).openapiObject as OpenApiDocument;
        return mergeDocuments(own, betterAuth, basePath) as unknown as SwaggerDocument;
      },
    });
    await app.register(swaggerUi, { routePrefix: REFERENCE_PAGE });

    app.get(PUBLIC_DOCUMENT, { schema: { summary: "This document (OpenAPI 3.1)" } }, async () => app.swagger());
  },
  { name: "public-api-docs", dependencies: ["errors"] },
);

/** The internal listener's document: introspection and metrics. */
export const internalApiDocs = fp(
  async (internal: FastifyInstance) => {
    await internal.register(swagger, {
      openapi: {
        ...openapiBase(
          "The auth service's cluster-internal listener (INTERNAL_PORT): session introspection for other temetro " +
            "services and Prometheus metrics. Never routed by the ingress.",
        ),
        components: {
          schemas: { Error: ErrorBody },
          securitySchemes: { internalToken: { type: "http", scheme: "bearer", description: "INTERNAL_TOKEN (or METRICS_TOKEN for /metrics), when configured." } },
        },
      },
      transform: (route) => {
        const described = describeRoute(route);
        if (route.url === INTERNAL_DOCUMENT) return described;
        return { ...described, schema: { ...described.schema, security: [{ internalToken: [] }] } };
      },
    });
    internal.get(INTERNAL_DOCUMENT, { schema: { summary: "This document (OpenAPI 3.1)" } }, async () => internal.swagger());
  },
  { name: "internal-api-docs" },
);

/**
 * One document: ours (paths, tags, schemas) and Better Auth's under its base path, plus the
 * routes the service adds there itself.
 */
function mergeDocuments(own: OpenApiDocument, betterAuth: OpenApiDocument, basePath: string): OpenApiDocument {
  const paths = { ...betterAuth.paths, ...own.paths };
  // The spec's name for what Better Auth now calls request-password-reset (auth/routes.ts).
  const resetRequest = betterAuth.paths[`${basePath}/request-password-reset`]?.post;
  if (resetRequest) {
    paths[`${basePath}/forget-password`] = {
      post: {
        ...resetRequest,
        operationId: "forgetPassword",
        description: `The same operation as POST ${basePath}/request-password-reset, by the name of the authentication spec.`,
      },
    };
  }
  // swagger-ui's routes hide themselves; its page is one of the API's documents all the same.
  paths[REFERENCE_PAGE] = {
    get: {
      tags: ["Documentation"],
      summary: "This document as a readable reference page (swagger-ui, served by the service itself)",
      responses: { "200": { description: "An HTML page", content: { "text/html": {} } } },
    },
  };
  const usedTags = Object.values(paths).flatMap((operations) => Object.values(operations).flatMap((operation) => (operation.tags as string[] | undefined) ?? []));
  const ownTags = [...new Set(tagsByPrefix.map(([, tag]) => tag))].filter((tag) => usedTags.includes(tag)).map((name) => ({ name }));
  return {
    ...own,
    paths,
    tags: [...ownTags, ...(betterAuth.tags ?? [])],
    components: {
      ...own.components,
      schemas: { ...betterAuth.components?.schemas, ...own.components?.schemas },
      securitySchemes: { ...own.components?.securitySchemes, ...betterAuth.components?.securitySchemes },
    },
  };
}
