import closeWithGrace from "close-with-grace";
import { createPrescriptionsServer } from "./app.js";

// Process concerns only: configuration from the environment, a log, listen, graceful close.

const env = process.env;
const authInternalUrl = env.AUTH_INTERNAL_URL ?? "http://127.0.0.1:4001";
const authPublicUrl = env.AUTH_URL ?? "http://localhost:4000";

// One JSON line per event, as the auth service logs; the client hands it no credential.
const line = (level: string) => (fields: object, message: string) =>
  process.stdout.write(`${JSON.stringify({ level, time: new Date().toISOString(), ...fields, message })}\n`);
const log = { info: line("info"), error: line("error") };

const server = createPrescriptionsServer({
  log,
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
  if (err) log.error({ err: err.message }, "closing after an error");
  await new Promise((resolve) => server.close(resolve));
});

const host = env.HOST ?? "127.0.0.1";
const port = Number(env.PORT ?? 4200);
server.listen(port, host, () => log.info({ address: `http://${host}:${port}` }, "listening"));
