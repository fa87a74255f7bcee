import fp from "fastify-plugin";
import { Counter, Histogram } from "prom-client";
import type { Registry } from "@temetro/shared";

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

/** Records every response's latency. Sign-in outcomes are counted where they are known (sign-in-lockout.ts, rate-limit.ts). */
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
