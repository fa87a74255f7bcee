import fp from "fastify-plugin";
import { Counter, Gauge, Histogram } from "prom-client";
import type { Registry } from "@temetro/shared";
import type { CounterStoreStatus } from "../sign-in/counter-store.js";
import type { InvalidationStatus } from "../sessions/invalidation.js";

/** The auth service's instruments; served as Prometheus text on the internal port (/metrics). */
export interface AuthMetrics {
  registry: Registry;
  httpRequestDuration: Histogram<"method" | "route" | "status">;
  signIns: Counter<"outcome">;
  rateLimitHits: Counter<"budget">;
  passwordHashDuration: Histogram<"operation">;
}

declare module "fastify" {
  interface FastifyInstance {
    metrics: AuthMetrics;
  }
}

export function createAuthMetrics(registry: Registry): AuthMetrics {
  return {
    registry,
    httpRequestDuration: new Histogram({
      name: "http_request_duration_seconds",
      help: "Time to answer an HTTP request, by route pattern and status",
      labelNames: ["method", "route", "status"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    signIns: new Counter({
      name: "auth_sign_ins_total",
      help: "Sign-in attempts by outcome: success, wrong_password (or unknown account), locked, limited, busy",
      labelNames: ["outcome"],
      registers: [registry],
    }),
    rateLimitHits: new Counter({
      name: "auth_rate_limit_hits_total",
      help: "Requests refused with 429, by budget",
      labelNames: ["budget"],
      registers: [registry],
    }),
    passwordHashDuration: new Histogram({
      name: "auth_password_hash_duration_seconds",
      help: "Time to hash or verify a password",
      labelNames: ["operation"],
      buckets: [0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    }),
  };
}

/** Records every response's latency. Sign-in outcomes are counted where they are known (sign-in/lockout.ts, sign-in/rate-limits.ts). */
export default fp(
  async (app, options: { metrics: AuthMetrics }) => {
    const { metrics } = options;
    app.decorate("metrics", metrics);
    app.addHook("onResponse", async (request, reply) => {
      // The route pattern, never the raw URL: bounded label values, and no token in a label.
      const route = request.routeOptions.url ?? "unmatched";
      metrics.httpRequestDuration.observe(
        { method: request.method, route, status: String(reply.statusCode) },
        reply.elapsedTime / 1000,
      );
    });
  },
  { name: "metrics" },
);

// ---- Degraded modes: what a replica is doing without one of its dependencies --------------------
// Read from the components' own state at scrape time; each is registered by the plugin that owns
// the component (sessions, limiter-store, health).

/** A counter that mirrors a count kept elsewhere (it only ever grows). */
function mirroredCounter(registry: Registry, name: string, help: string, read: () => number): Counter {
  let reported = 0;
  return new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      const value = read();
      if (value > reported) this.inc(value - reported);
      reported = Math.max(reported, value);
    },
  });
}

export function observeSessionCache(
  registry: Registry,
  source: { caching: () => boolean; bytes: () => number; invalidations: InvalidationStatus },
): void {
  new Gauge({
    name: "auth_session_cache_enabled",
    help: "1 while this replica keeps session and membership answers in memory (it has caught up with the invalidation log), 0 while every answer comes from PostgreSQL",
    registers: [registry],
    collect() {
      this.set(source.caching() ? 1 : 0);
    },
  });
  new Gauge({
    name: "auth_session_cache_bytes",
    help: "Estimated memory held by the session caches (bounded)",
    registers: [registry],
    collect() {
      this.set(source.bytes());
    },
  });
  mirroredCounter(
    registry,
    "auth_session_invalidations_received_total",
    "Session invalidations this replica applied from the invalidation log (notifications and polls)",
    () => source.invalidations.received,
  );
  mirroredCounter(
    registry,
    "auth_session_invalidation_read_failures_total",
    "Times this replica could not read the invalidation log (connection lost or refused, a poll failing or hanging); its session cache is off until it has caught up again",
    () => source.invalidations.readFailures,
  );
}

export function observeLimiterStore(registry: Registry, status: CounterStoreStatus): void {
  new Gauge({
    name: "auth_limits_shared",
    help: "1 while rate limits and lockouts are counted in Redis for every replica, 0 while this replica counts in memory (Redis unreachable)",
    registers: [registry],
    collect() {
      this.set(status.shared ? 1 : 0);
    },
  });
  mirroredCounter(
    registry,
    "auth_limits_local_fallbacks_total",
    "Rate-limit and lockout operations counted in this replica's memory because Redis was unreachable",
    () => status.localFallbacks,
  );
  mirroredCounter(
    registry,
    "auth_limits_outages_total",
    "Times the limits switched from Redis to this replica's memory",
    () => status.outages,
  );
}

export type DependencyName = "postgres" | "redis";
export type RedisPersistence = "aof" | "rdb" | "none" | "unknown";

export function observeDependencies(
  registry: Registry,
  source: { check: () => Promise<{ up: Record<DependencyName, boolean>; redisPersistence: RedisPersistence }> },
): void {
  let latest: ReturnType<typeof source.check> | undefined;
  // Both gauges are filled by one check per scrape.
  const checked = () => (latest ??= source.check().finally(() => setImmediate(() => (latest = undefined))));
  new Gauge({
    name: "auth_dependency_up",
    help: "1 when the dependency answered this replica's check within a second; the replica keeps serving (degraded) when it does not",
    labelNames: ["dependency"],
    registers: [registry],
    async collect() {
      const { up } = await checked();
      for (const [dependency, value] of Object.entries(up)) this.set({ dependency }, value ? 1 : 0);
    },
  });
  new Gauge({
    name: "auth_redis_persistence",
    help: "1 for how Redis keeps its data (aof, rdb, none, unknown); none means queued emails are lost when Redis restarts",
    labelNames: ["mode"],
    registers: [registry],
    async collect() {
      const { redisPersistence } = await checked();
      for (const mode of ["aof", "rdb", "none", "unknown"] as const) this.set({ mode }, mode === redisPersistence ? 1 : 0);
    },
  });
}
