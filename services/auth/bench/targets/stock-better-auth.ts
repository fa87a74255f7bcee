// The baseline: Better Auth as its documentation mounts it on Fastify, default options (scrypt,
// sessions in PostgreSQL, no cookie cache), every request through `auth.handler`.
import { betterAuth } from "better-auth";
import { getMigrations } from "better-auth/db/migration";
import Fastify from "fastify";
import pg from "pg";

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
const options = {
  baseURL: "http://127.0.0.1",
  secret: "bench-secret-bench-secret-bench-secret",
  database: pool,
  emailAndPassword: { enabled: true },
  rateLimit: { enabled: false },
  logger: { disabled: true },
};
await (await getMigrations(options)).runMigrations();
const auth = betterAuth(options);

const app = Fastify({ logger: false });
app.route({
  method: ["GET", "POST"],
  url: "/api/auth/*",
  async handler(request, reply) {
    const headers = new Headers();
    for (const [key, value] of Object.entries(request.headers)) if (typeof value === "string") headers.append(key, value);
    const response = await auth.handler(
      new Request(`http://127.0.0.1${request.url}`, {
        method: request.method,
        headers,
        body: request.body ? JSON.stringify(request.body) : undefined,
      }),
    );
    reply.status(response.status);
    response.headers.forEach((value, key) => reply.header(key, value));
    reply.send(response.body ? await response.text() : null);
  },
});
const address = await app.listen({ host: "127.0.0.1", port: Number(process.env.PORT ?? 0) });
console.log(`listening ${address}`);
