import type { FastifyPluginAsync } from "fastify";
import fp from "fastify-plugin";
import type { Registry } from "prom-client";
import { bearerTokenCheck } from "./bearer-token.js";

export interface MetricsRouteOptions {
  registry: Registry;
  /** METRICS_TOKEN, else INTERNAL_TOKEN (config/internal-tokens.ts); unset: open, as in development. */
  token: string | undefined;
}

/**
 * GET /metrics, Prometheus text, on each service's internal listener. With a token configured a
 * scrape must send `Authorization: Bearer <token>` (Prometheus's `authorization` scrape setting):
 * the figures tell an attacker who reached the port how much sign-in traffic, which failures, which
 * dependencies are down. The health routes beside it stay open for the kubelet's probes.
 */
const routes: FastifyPluginAsync<MetricsRouteOptions> = async (app, { registry, token }) => {
  const presentsToken = token ? bearerTokenCheck(token) : () => true;
  app.get("/metrics", async (request, reply) => {
    if (!presentsToken(request.headers.authorization)) {
      return reply
        .status(401)
        .header("www-authenticate", 'Bearer realm="metrics"')
        .send({
          error: "Present the metrics token: Authorization: Bearer <METRICS_TOKEN, or INTERNAL_TOKEN>",
          code: "METRICS_TOKEN_REQUIRED",
          message: "Present the metrics token: Authorization: Bearer <METRICS_TOKEN, or INTERNAL_TOKEN>",
        });
    }
    reply.type(registry.contentType);
    return registry.metrics();
  });
};

export const metricsRoute = fp(routes, { name: "metrics-route", fastify: "5.x" });
