import fp from "fastify-plugin";
import pg from "pg";

declare module "fastify" {
  interface FastifyInstance {
    /** The service's one PostgreSQL pool, shared with Better Auth. */
    pg: pg.Pool;
  }
}

export default fp(
  async (app, options: { databaseUrl: string; max?: number }) => {
    const pool = new pg.Pool({
      connectionString: options.databaseUrl,
      max: options.max ?? 10,
      connectionTimeoutMillis: 5000,
      idleTimeoutMillis: 30_000,
    });
    // An idle client's connection dropping (PostgreSQL restarted) must not crash the process;
    // the pool replaces it on the next query.
    pool.on("error", (error) => app.log.warn({ err: error }, "idle PostgreSQL connection lost"));
    app.decorate("pg", pool);
    app.addHook("onClose", async () => {
      await pool.end();
    });
  },
  { name: "db" },
);
