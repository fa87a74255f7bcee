import Fastify, { LogController, type FastifyInstance } from "fastify";
import { metricsRoute } from "@temetro/shared";
import errors from "./plugins/errors.js";
import requestTarget, { canonicalTargetOptions } from "./plugins/request-target.js";
import textGuard from "./plugins/text-guard.js";
import metrics from "./plugins/metrics.js";
import introspectRoutes from "./sessions/introspection.js";
import { internalApiDocs } from "./api-docs/plugin.js";

/**
 * The cluster-internal listener (INTERNAL_PORT): what other temetro services and Prometheus ask,
 * on a port the ingress never routes. It shares the public app's resources (pools, Better Auth,
 * metrics) and is closed before it.
 */
export async function buildInternalApp(app: FastifyInstance): Promise<FastifyInstance> {
  const internal = Fastify({
    ...canonicalTargetOptions,
    loggerInstance: app.log.child({ listener: "internal" }),
    bodyLimit: 32 * 1024,
    // The hot path of the platform: a line per request would cost more than the answer. Errors
    // are still logged, and every request is counted in the metrics.
    logController: new LogController({ disableRequestLogging: true }),
    // Strict input: no type coercion, unknown fields refused rather than silently dropped.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
  }) as unknown as FastifyInstance;
  await internal.register(requestTarget);
  await internal.register(errors);
  await internal.register(textGuard);
  await internal.register(metrics, { metrics: app.metrics });
  // Before the routes it documents.
  await internal.register(internalApiDocs);
  await internal.register(introspectRoutes, { app });
  await internal.register(metricsRoute, { registry: app.metrics.registry, token: app.config.metricsToken });

  return internal;
}
