import Fastify, { type FastifyInstance } from "fastify";
import errors from "./plugins/errors.js";

/**
 * The cluster-internal listener (INTERNAL_PORT): what other temetro services and Prometheus ask,
 * on a port the ingress never routes. It shares the public app's resources (pools, Better Auth,
 * metrics) and is closed before it.
 */
export async function buildInternalApp(app: FastifyInstance): Promise<FastifyInstance> {
  const internal = Fastify({ loggerInstance: app.log.child({ listener: "internal" }) }) as unknown as FastifyInstance;
  await internal.register(errors);

  internal.get("/metrics", async (_request, reply) => {
    reply.type(app.metrics.registry.contentType);
    return app.metrics.registry.metrics();
  });

  return internal;
}
