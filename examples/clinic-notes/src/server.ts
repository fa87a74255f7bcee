import closeWithGrace from "close-with-grace";
import { buildNotesApp } from "./app.js";

// Process concerns only: configuration from the environment, listen, graceful close.

const env = process.env;
const authInternalUrl = env.AUTH_INTERNAL_URL ?? "http://127.0.0.1:4001";
const authPublicUrl = env.AUTH_URL ?? "http://localhost:4000";

const app = await buildNotesApp({
  fastify: { logger: { level: env.LOG_LEVEL ?? "info" } },
  auth: {
    introspectionUrl: `${authInternalUrl}/internal/v1/introspect`,
    internalToken: env.INTERNAL_TOKEN || undefined,
    cacheTtlMs: Number(env.AUTH_CACHE_TTL_MS ?? 0),
    jwt: {
      jwksUrl: `${authPublicUrl}/api/auth/jwks`,
      issuer: authPublicUrl,
      audience: env.JWT_AUDIENCE ?? "temetro",
    },
  },
});

closeWithGrace({ delay: 10_000 }, async ({ err }) => {
  if (err) app.log.error({ err }, "closing after an error");
  await app.close();
});

await app.listen({ host: env.HOST ?? "127.0.0.1", port: Number(env.PORT ?? 4100) });
