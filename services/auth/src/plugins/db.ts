import fp from "fastify-plugin";
import type pg from "pg";
import { createPostgresPool } from "@temetro/shared";

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
  /** How long one statement may run (DATABASE_STATEMENT_TIMEOUT_MS; 0: no limit). */
  statementTimeoutMs: number;
}

export default fp(
  async (app, options: DbOptions) => {
    // Nothing sent through this pool needs a session of its own: DATABASE_URL may lead through
    // PgBouncer in transaction mode (see createPostgresPool for the statement timeout).
    const pool = createPostgresPool(
      {
        connectionString: options.databaseUrl,
        max: options.max,
        connectionTimeoutMillis: options.connectionTimeoutMs,
        statementTimeoutMs: options.statementTimeoutMs,
      },
      app.log,
    );
    app.decorate("pg", pool);
    app.addHook("onClose", async () => {
      await pool.end();
    });
  },
  { name: "db" },
);
