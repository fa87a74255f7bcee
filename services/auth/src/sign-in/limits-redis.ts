import { once } from "node:events";
import fp from "fastify-plugin";
import { createRedis, slotTag, type RedisTopology } from "@temetro/shared";
import { CounterStore } from "./counter-store.js";
import { observeLimiterStore } from "../plugins/metrics.js";

declare module "fastify" {
  interface FastifyInstance {
    /** Where rate limits and lockouts are counted; `limiterStore.status` is for the metrics endpoint. */
    limiterStore: CounterStore;
  }
}

/** How long a command on the limits' Redis may take before the replica counts in memory instead. */
const COMMAND_TIMEOUT_MS = 1000;
/** How long start-up waits for the first connection before serving with per-replica counts. */
const FIRST_CONNECTION_WAIT_MS = 3000;

/**
 * The limits' own Redis connection (request-path settings: no offline queue, fail fast), apart
 * from the email queue's so that neither waits behind the other.
 */
export default fp(
  async (app, options: { redis: RedisTopology | string; prefix: string }) => {
    const redis = createRedis(options.redis, "request", {
      connectionName: "temetro-limits",
      commandTimeout: COMMAND_TIMEOUT_MS,
    });
    // Outages are logged once by CounterStore when a count first falls back; every reconnect
    // attempt would repeat it every two seconds.
    redis.on("error", (error) => app.log.debug({ err: error.message }, "Redis (limits) connection error"));

    const timeout = AbortSignal.timeout(FIRST_CONNECTION_WAIT_MS);
    await once(redis, "ready", { signal: timeout }).catch(() => {
      app.log.warn("Redis (limits) not reachable at start: counting per replica until it is");
    });

    const store = new CounterStore(redis, `${options.prefix}:`, (part) => slotTag(options.redis, part), app.log);
    app.decorate("limiterStore", store);
    observeLimiterStore(app.metrics.registry, store.status);
    app.addHook("onClose", async () => {
      redis.disconnect();
    });
  },
  { name: "limiter-store", dependencies: ["metrics"] },
);
