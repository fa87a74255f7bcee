import type { FastifyPluginAsync } from "fastify";
import fp from "fastify-plugin";
import Type, { type Static, type TObject, type TProperties } from "typebox";

declare module "fastify" {
  interface FastifyInstance {
    /** From now on readiness fails, so load balancers and probes stop sending work here. */
    beginShutdown: () => void;
  }
}

/** The codes of a 503 from GET /health/ready. */
export const HealthCode = { NOT_READY: "NOT_READY", SHUTTING_DOWN: "SHUTTING_DOWN" } as const;

const Checks = Type.Record(Type.String(), Type.String(), { description: "each check's result: ok, or what is wrong" });
const Live = Type.Object({ status: Type.Literal("ok") });

/** What a service answers readiness with; `details` are the fields it adds to both answers. */
export interface HealthRoutesOptions<Details extends TProperties> {
  details: Details;
  report(): Promise<ReadinessReport<Details>>;
}

export type ReadinessReport<Details extends TProperties> = Static<TObject<Details>> & {
  /**
   * ready: serves. degraded: serves, but a dependency every replica shares is down (taking every
   * replica out of the balancer would not help). unready: 503, with `reason` as its message.
   */
  state: "ready" | "degraded" | "unready";
  reason?: string;
  checks: Record<string, string>;
};

/**
 * GET /health/live (the process answers; touches no dependency: a restart would not help an
 * outage) and GET /health/ready (what the service's report says; 503 SHUTTING_DOWN once
 * `beginShutdown()` was called), for Kubernetes' probes and load balancers, in every service.
 */
const routes: FastifyPluginAsync<HealthRoutesOptions<TProperties>> = async (app, { details, report }) => {
  let shuttingDown = false;
  app.decorate("beginShutdown", () => {
    shuttingDown = true;
  });

  app.get("/health/live", { schema: { response: { 200: Live } } }, async () => ({ status: "ok" as const }));

  const Ready = Type.Object({ status: Type.Union([Type.Literal("ready"), Type.Literal("degraded")]), checks: Checks, ...details });
  const NotReady = Type.Object({
    error: Type.String(),
    message: Type.String(),
    code: Type.Union([Type.Literal(HealthCode.NOT_READY), Type.Literal(HealthCode.SHUTTING_DOWN)]),
    ...Type.Partial(Type.Object({ checks: Checks, ...details })).properties,
  });
  app.get("/health/ready", { schema: { response: { 200: Ready, 503: NotReady } } }, async (request, reply) => {
    if (shuttingDown) return reply.status(503).send({ error: "Shutting down", code: HealthCode.SHUTTING_DOWN, message: "Shutting down" });
    const { state, reason, ...body } = await report();
    if (state === "unready") {
      request.log.warn({ checks: body.checks }, "not ready");
      return reply.status(503).send({ error: reason ?? "Not ready", code: HealthCode.NOT_READY, message: reason ?? "Not ready", ...body });
    }
    if (state === "degraded") request.log.warn({ checks: body.checks }, "serving degraded: a dependency is unreachable");
    return { status: state, ...body };
  });
};

export const healthRoutes = fp(routes, { name: "health-routes", fastify: "5.x" });
