import { once } from "node:events";
import fp from "fastify-plugin";
import type { Redis } from "ioredis";
import { checkReadiness, createRedis } from "@temetro/shared";
import { ownMigrations } from "../db/schema.js";
import { sendError } from "./errors.js";

declare module "fastify" {
  interface FastifyInstance {
    /** From now on readiness fails, so the load balancer stops sending new requests here. */
    beginShutdown: () => void;
  }
}

/** A check must answer within this; a dependency that hangs is as unready as one that is down. */
const CHECK_TIMEOUT_MS = 1000;

/**
 * GET /health/live: the process answers (touches no dependency; a restart would not help a
 * database outage). GET /health/ready: PostgreSQL and Redis answer and the schema is migrated;
 * 503 while shutting down.
 */
export default fp(
  async (app, options: { redisUrl: string }) => {
    let shuttingDown = false;
    app.decorate("beginShutdown", () => {
      shuttingDown = true;
    });

    // Its own connection: readiness must not queue behind the traffic it is asked about.
    const redis: Redis = createRedis(options.redisUrl, "request", { connectionName: "temetro-health" });
    redis.on("error", () => {}); // the check reports it

    const checks: Record<string, () => Promise<void>> = {
      postgres: async () => {
        const { rows } = await app.pg.query<{ session: string | null; applied: number }>(
          `SELECT to_regclass('session')::text AS session,
                  (SELECT count(*)::int FROM temetro_migration WHERE id = ANY($1)) AS applied`,
          [ownMigrations.map((migration) => migration.id)],
        );
        if (!rows[0]?.session || rows[0].applied !== ownMigrations.length) throw new Error("schema not migrated");
      },
      redis: async () => {
        // Still connecting (just started, or reconnecting): wait for it, within the check's time.
        if (redis.status !== "ready") await once(redis, "ready");
        if ((await redis.ping()) !== "PONG") throw new Error("unexpected PING answer");
      },
    };

    app.get("/health/live", async () => ({ status: "ok" }));

    app.get("/health/ready", async (request, reply) => {
      if (shuttingDown) return sendError(reply, 503, "SHUTTING_DOWN", "Shutting down");
      const readiness = await checkReadiness(checks, CHECK_TIMEOUT_MS);
      if (readiness.ready) return { status: "ready", checks: readiness.checks };
      request.log.warn({ failing: readiness.failing }, "not ready");
      return reply.status(503).send({
        error: `Not ready: ${readiness.failing.join(", ")} unavailable`,
        code: "NOT_READY",
        checks: readiness.checks,
      });
    });

    app.addHook("onClose", async () => {
      redis.disconnect();
    });
  },
  { name: "health", dependencies: ["db"] },
);
