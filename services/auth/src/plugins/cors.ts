import cors from "@fastify/cors";
import fp from "fastify-plugin";

/**
 * What a browser on a trusted origin (the web app) may do with this API, with its cookies. Every
 * method a route of the service answers (`services/auth/test/cors.test.ts` sends a preflight for
 * each), so the web app can change a role or remove a staff member, not only read and post.
 */
export const CORS_METHODS = ["GET", "HEAD", "POST", "PATCH", "DELETE"];

/** Request headers the web app sends: JSON bodies, a bearer token, a request id to follow in logs. */
export const CORS_REQUEST_HEADERS = ["Content-Type", "Authorization", "X-Request-Id"];

/**
 * Response headers scripts may read: how long to wait (Better Auth's client reads X-Retry-After),
 * the rate-limit budget, and the request id to quote in a bug report.
 */
export const CORS_EXPOSED_HEADERS = [
  "Retry-After",
  "X-Retry-After",
  "RateLimit-Limit",
  "RateLimit-Remaining",
  "RateLimit-Reset",
  "X-Request-Id",
];

/** Browsers cache a preflight this long (Chromium caps it at 7200): one per route and ten minutes, not one per request. */
export const CORS_MAX_AGE_SECONDS = 600;

export default fp(
  async (app, options: { trustedOrigins: string[] }) => {
    await app.register(cors, {
      origin: options.trustedOrigins,
      credentials: true,
      methods: CORS_METHODS,
      allowedHeaders: CORS_REQUEST_HEADERS,
      exposedHeaders: CORS_EXPOSED_HEADERS,
      maxAge: CORS_MAX_AGE_SECONDS,
    });
  },
  { name: "cors" },
);
