import { once } from "node:events";
import Fastify, { LogController, type FastifyInstance } from "fastify";
import type { Redis } from "ioredis";
import { checkReadiness, createRedis, type Logger } from "@temetro/shared";
import { createMailerRegistry } from "./metrics.js";
import type { Mailer } from "./worker.js";

declare module "fastify" {
  interface FastifyInstance {
    /** From now on readiness fails: the mailer is finishing its emails in flight. */
    beginShutdown: () => void;
  }
}

/** A check must answer within this; a Redis that hangs is as unready as one that is down. */
const CHECK_TIMEOUT_MS = 1000;

export interface MailerHttpOptions {
  redisUrl: string;
  logger: Logger;
  mailer: Mailer;
}

const errorBody = {
  type: "object",
  required: ["error", "code"],
  properties: {
    error: { type: "string" },
    code: { type: "string" },
    checks: { type: "object", additionalProperties: { type: "string" } },
  },
} as const;

/**
 * The mailer's HTTP listener (MAILER_HTTP_PORT), for Kubernetes' probes and Prometheus only:
 * GET /health/live (the process answers; touches no dependency), GET /health/ready (Redis answers
 * and the worker takes jobs; PostgreSQL is reported, as degraded when down, but never makes it
 * unready; 503 once shutting down) and GET /metrics (Prometheus text).
 */
export async function buildMailerHttp({ redisUrl, logger, mailer }: MailerHttpOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: logger.child({ listener: "http" }),
    // Probes every few seconds: a line per request would drown the emails' lines. Errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
  }) as unknown as FastifyInstance;
  const registry = createMailerRegistry(mailer, logger);

  let shuttingDown = false;
  app.decorate("beginShutdown", () => {
    shuttingDown = true;
  });

  // Its own connection, failing fast: the worker's waits for Redis forever, a probe must not.
  const redis: Redis = createRedis(redisUrl, "request", { connectionName: "temetro-mailer-health" });
  redis.on("error", () => {}); // the check reports it
  app.addHook("onClose", async () => {
    redis.disconnect();
  });

  const checks: Record<string, () => Promise<void>> = {
    redis: async () => {
      // Still connecting (just started, or reconnecting): wait for it, within the check's time.
      // The signal removes the listener when Redis stays away: probes must not pile them up.
      if (redis.status !== "ready") await once(redis, "ready", { signal: AbortSignal.timeout(CHECK_TIMEOUT_MS) });
      if ((await redis.ping()) !== "PONG") throw new Error("unexpected PING answer");
    },
    worker: async () => {
      if (!mailer.isRunning()) throw new Error("not taking jobs");
    },
  };

  app.get(
    "/health/live",
    { schema: { response: { 200: { type: "object", properties: { status: { const: "ok" } } } } } },
    async () => ({ status: "ok" as const }),
  );

  app.get(
    "/health/ready",
    {
      schema: {
        response: {
          200: {
            type: "object",
            properties: { status: { const: "ready" }, checks: { type: "object", additionalProperties: { type: "string" } } },
          },
          503: errorBody,
        },
      },
    },
    async (request, reply) => {
      if (shuttingDown) return reply.status(503).send({ error: "Shutting down", code: "SHUTTING_DOWN" });
      const [readiness, database] = await Promise.all([
        checkReadiness(checks, CHECK_TIMEOUT_MS),
        // PostgreSQL only confirms deliveries: without it the mailer still sends (Redis marks
        // alone keep them once), so it is reported as degraded and never makes the mailer unready.
        checkReadiness({ postgres: () => mailer.pingDatabase() }, CHECK_TIMEOUT_MS),
      ]);
      const postgres = database.ready ? "ok" : `degraded: ${database.checks.postgres}`;
      readiness.checks.postgres = postgres;
      if (readiness.ready) return { status: "ready" as const, checks: readiness.checks };
      request.log.warn({ failing: readiness.failing }, "not ready");
      return reply.status(503).send({
        error: `Not ready: ${readiness.failing.join(", ")} unavailable`,
        code: "NOT_READY",
        checks: readiness.checks,
      });
    },
  );

  app.get("/metrics", async (_request, reply) => {
    reply.type(registry.contentType);
    return registry.metrics();
  });

  return app;
}
