import fp from "fastify-plugin";
import pg from "pg";

declare module "fastify" {
  interface FastifyInstance {
    /** The service's one PostgreSQL pool, shared with Better Auth. */
    pg: pg.Pool;
  }
}

export interface DbOptions {
  databaseUrl: string;
  /** Connections at most (DATABASE_POOL_MAX). */
  max: number;
  /** How long a query waits for a connection before failing (DATABASE_CONNECTION_TIMEOUT_MS). */
  connectionTimeoutMs: number;
}

export default fp(
  async (app, options: DbOptions) => {
    const pool = new pg.Pool({
      connectionString: options.databaseUrl,
      max: options.max,
      connectionTimeoutMillis: options.connectionTimeoutMs,
      idleTimeoutMillis: 30_000,
    });
    // The pool listens for errors of idle connections only. A connection that is checked out (a
    // transaction of Better Auth's, the outbox relay's) and is cut by a PostgreSQL restart emits
    // 'error' on its client: without a listener of its own that is an uncaught exception and the
    // process ends. The query in flight fails on its own (503 to the client), and the pool drops
    // the broken connection when it is released.
    pool.on("connect", (client) => {
      client.on("error", (error) => app.log.warn({ err: error.message }, "PostgreSQL connection lost while in use"));
    });
    pool.on("error", (error) => app.log.warn({ err: error.message }, "idle PostgreSQL connection lost"));
    app.decorate("pg", pool);
    app.addHook("onClose", async () => {
      await pool.end();
    });
  },
  { name: "db" },
);
