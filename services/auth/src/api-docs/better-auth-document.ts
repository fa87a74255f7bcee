import { openAPI } from "better-auth/plugins";

/** An OpenAPI document as plain JSON (the validator in the tests judges its shape). */
export type OpenApiDocument = {
  openapi: string;
  info: Record<string, unknown>;
  paths: Record<string, Record<string, Record<string, unknown>>>;
  components?: { schemas?: Record<string, unknown>; securitySchemes?: Record<string, unknown> };
  tags?: { name: string; description?: string }[];
  servers?: { url: string }[];
  security?: Record<string, string[]>[];
  [key: string]: unknown;
};

/**
 * Better Auth's openAPI plugin, for its schema generator alone: both of its endpoints become
 * server-only (404 over HTTP, like any unknown path). Its reference page loads Scalar from a CDN
 * (clinics may have no internet), and its generate-schema route would be a second, unmerged copy
 * of GET /api/openapi.json.
 */
export function betterAuthSchemaGenerator() {
  const plugin = openAPI({ disableDefaultReference: true });
  for (const endpoint of Object.values(plugin.endpoints)) {
    const options = endpoint.options as { metadata?: Record<string, unknown> };
    options.metadata = { ...options.metadata, SERVER_ONLY: true };
  }
  return plugin;
}

/** What the service's Better Auth answers the generator from. */
export interface DocumentedAuth {
  api: { generateOpenAPISchema: () => Promise<unknown> };
  options: { basePath?: string };
}

/**
 * Better Auth's routes as this service serves them: paths under its base path (the generator
 * writes them relative to it), the session cookie as their credential (the generator names a
 * bearer scheme this service does not accept), and the names of its tags kept apart from ours.
 */
export async function betterAuthDocument(auth: DocumentedAuth, sessionCookieName: string): Promise<OpenApiDocument> {
  const generated = (await auth.api.generateOpenAPISchema()) as OpenApiDocument;
  const basePath = auth.options.basePath ?? "/api/auth";
  const paths: OpenApiDocument["paths"] = {};
  for (const [path, operations] of Object.entries(generated.paths)) {
    const rebased: Record<string, Record<string, unknown>> = {};
    for (const [method, operation] of Object.entries(operations)) {
      // Acting for a user takes the session cookie; routes that need none (sign-in, sign-up, the
      // emailed links) accept a request without it.
      rebased[method] = { ...operation, security: [{}, { sessionCookie: [] }] };
    }
    paths[`${basePath}${path}`] = rebased;
  }
  return {
    ...generated,
    paths,
    components: {
      ...generated.components,
      securitySchemes: { sessionCookie: sessionCookieScheme(sessionCookieName) },
    },
  };
}

export function sessionCookieScheme(name: string) {
  return {
    type: "apiKey" as const,
    in: "cookie" as const,
    name,
    description: "The HttpOnly session cookie set by a sign-in (POST /api/auth/sign-in/email or /sign-in/username).",
  };
}
