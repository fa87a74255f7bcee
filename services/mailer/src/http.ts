import Fastify, { LogController, type FastifyInstance } from "fastify";
import { checkReadiness, createRedis, healthRoutes, metricsRoute, redisAnswers, type Logger, type RedisTopology } from "@temetro/shared";
import { createMailerRegistry } from "./metrics.js";
import type { Mailer } from "./worker.js";

/** A check must answer within this; a Redis that hangs is as unready as one that is down. */
const CHECK_TIMEOUT_MS = 1000;

export interface MailerHttpOptions {
  redis: RedisTopology | string;
  logger: Logger;
  mailer: Mailer;
  /** METRICS_TOKEN, else INTERNAL_TOKEN: what a scrape of /metrics must present; unset, /metrics is open. */
  metricsToken?: string | undefined;
}

/**
 * The mailer's HTTP listener (MAILER_HTTP_PORT), for Kubernetes' probes and Prometheus only:
 * GET /health/live, GET /health/ready (Redis answers and the worker takes jobs; PostgreSQL is
 * reported, as degraded when down, but never makes it unready; 503 once shutting down) and
 * GET /metrics (Prometheus text; behind the metrics token when one is set).
 */
export async function buildMailerHttp({ redis: redisTopology, logger, mailer, metricsToken }: MailerHttpOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: logger.child({ listener: "http" }),
    // Probes every few seconds: a line per request would drown the emails' lines. Errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
  }) as unknown as FastifyInstance;
  const registry = createMailerRegistry(mailer, logger);

  // Its own connection, failing fast: the worker's waits for Redis forever, a probe must not.
  const redis = createRedis(redisTopology, "request", { connectionName: "temetro-mailer-health" });
  redis.on("error", () => {}); // the check reports it
  app.addHook("onClose", async () => {
    redis.disconnect();
  });

  const checks = {
    redis: redisAnswers(redis, CHECK_TIMEOUT_MS),
    worker: async () => {
      if (!mailer.isRunning()) throw new Error("not taking jobs");
    },
  };

  await app.register(healthRoutes, {
    details: {},
    async report() {
      const [readiness, database] = await Promise.all([
        checkReadiness(checks, CHECK_TIMEOUT_MS),
        // PostgreSQL only confirms deliveries: without it the mailer still sends (Redis marks
        // alone keep them once), so it is reported as degraded and never makes the mailer unready.
        checkReadiness({ postgres: () => mailer.pingDatabase() }, CHECK_TIMEOUT_MS),
      ]);
      const reported = { ...readiness.checks, postgres: database.ready ? "ok" : `degraded: ${database.checks.postgres}` };
      if (readiness.ready) return { state: "ready", checks: reported };
      return { state: "unready", reason: `Not ready: ${readiness.failing.join(", ")} unavailable`, checks: reported };
    },
  });

  await app.register(metricsRoute, { registry, token: metricsToken });

  return app;
}
