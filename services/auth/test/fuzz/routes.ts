// Every route a listener serves, found in the app itself, so that a route added later is fuzzed
// without anyone editing the fuzz.
import diagnostics from "node:diagnostics_channel";
import type { FastifyInstance, RouteOptions } from "fastify";
import { toJSONSchema } from "zod";

export type JsonSchema = Record<string, unknown>;

export interface FuzzRoute {
  /** The URL pattern as the router knows it: `:name` parameters, a trailing `*` wildcard. */
  path: string;
  methods: string[];
  body?: JsonSchema;
  query?: JsonSchema;
}

const routesByInstance = new WeakMap<object, RouteOptions[]>();

/**
 * Records the routes of every Fastify instance created from now on. Fastify announces each new
 * instance on the `fastify.initialization` diagnostics channel before any plugin registers, so an
 * `onRoute` hook added there sees every route with its schema. Call before building the apps.
 */
export function recordRoutesOfNewInstances(): void {
  diagnostics.subscribe("fastify.initialization", (message) => {
    const { fastify } = message as { fastify: FastifyInstance };
    const routes: RouteOptions[] = [];
    routesByInstance.set(fastify, routes);
    fastify.addHook("onRoute", (route) => {
      routes.push(route);
    });
  });
}

/** The routes Fastify serves on this instance (recorded since recordRoutesOfNewInstances). */
export function fastifyRoutesOf(app: FastifyInstance): FuzzRoute[] {
  const recorded = routesByInstance.get(app);
  if (!recorded) throw new Error("routes were not recorded: call recordRoutesOfNewInstances() before building the app");
  const merged = new Map<string, FuzzRoute>();
  for (const route of recorded) {
    const methods = [route.method].flat().map((method) => method.toUpperCase());
    const schema = route.schema as { body?: JsonSchema; querystring?: JsonSchema } | undefined;
    const existing = merged.get(route.url);
    if (existing) {
      existing.methods = [...new Set([...existing.methods, ...methods])];
      existing.body ??= schema?.body;
      existing.query ??= schema?.querystring;
    } else {
      merged.set(route.url, { path: route.url, methods, body: schema?.body, query: schema?.querystring });
    }
  }
  return [...merged.values()];
}

interface BetterAuthEndpoint {
  path?: string;
  options?: { method?: string | string[]; body?: unknown; query?: unknown; metadata?: { SERVER_ONLY?: boolean } };
}

/**
 * Better Auth's HTTP endpoints (those with a path; server-only ones have none), with the JSON
 * schemas of their zod body and query, under its base path.
 */
export function betterAuthRoutesOf(app: FastifyInstance): FuzzRoute[] {
  const basePath = app.auth.options.basePath ?? "/api/auth";
  const routes: FuzzRoute[] = [];
  for (const endpoint of Object.values(app.auth.api as Record<string, BetterAuthEndpoint>)) {
    if (!endpoint?.path || endpoint.options?.metadata?.SERVER_ONLY) continue;
    const declared = endpoint.options?.method ?? "GET";
    const methods = [declared].flat().flatMap((method) => (method === "*" ? ["GET", "POST"] : [method.toUpperCase()]));
    routes.push({
      path: `${basePath}${endpoint.path}`,
      methods,
      body: jsonSchemaOfZod(endpoint.options?.body),
      query: jsonSchemaOfZod(endpoint.options?.query),
    });
  }
  return routes;
}

function jsonSchemaOfZod(schema: unknown): JsonSchema | undefined {
  if (!schema) return undefined;
  try {
    return toJSONSchema(schema as Parameters<typeof toJSONSchema>[0], { unrepresentable: "any", io: "input" }) as JsonSchema;
  } catch {
    // A schema zod cannot express (a transform, a custom check): the fuzz generates shapes blindly.
    return undefined;
  }
}

/**
 * The public listener's routes: Fastify's own, and Better Auth's endpoints in place of the
 * catch-all that forwards to it (the catch-all itself stays, for paths Better Auth does not know).
 */
export function publicRoutesOf(app: FastifyInstance): FuzzRoute[] {
  const byPath = new Map<string, FuzzRoute>();
  for (const route of [...fastifyRoutesOf(app), ...betterAuthRoutesOf(app)]) {
    const existing = byPath.get(route.path);
    if (!existing) byPath.set(route.path, route);
    else {
      existing.methods = [...new Set([...existing.methods, ...route.methods])];
      existing.body ??= route.body;
      existing.query ??= route.query;
    }
  }
  return [...byPath.values()].sort((a, b) => a.path.localeCompare(b.path));
}
