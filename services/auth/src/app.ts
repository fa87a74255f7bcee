import { randomUUID } from "node:crypto";
import Fastify, { LogController, type FastifyInstance } from "fastify";
import { createMetricsRegistry, type Logger } from "@temetro/shared";
import type { Config } from "./config.js";
import accountLockout from "./sign-in/lockout-plugin.js";
import betterAuth from "./auth/plugin.js";
import cors from "./plugins/cors.js";
import db from "./plugins/db.js";
import emailQueue from "./email/plugin.js";
import { ErrorCode } from "./errors.js";
import errors, { sendError } from "./plugins/errors.js";
import health from "./plugins/health.js";
import requestTarget, { canonicalTargetOptions } from "./plugins/request-target.js";
import textGuard from "./plugins/text-guard.js";
import limiterStore from "./sign-in/limits-redis.js";
import metrics, { createAuthMetrics } from "./plugins/metrics.js";
import passwordHashing from "./sign-in/hashing-admission.js";
import rateLimit from "./sign-in/rate-limits.js";
import sessions from "./sessions/plugin.js";
import dataRoutes from "./clinics/routes/index.js";
import invitationLimits from "./clinics/invitation-limits.js";
import authHelperRoutes from "./auth/reset-by-username.js";
import authRoutes from "./auth/routes.js";
import { publicApiDocs } from "./api-docs/plugin.js";

declare module "fastify" {
  interface FastifyInstance {
    config: Config;
  }
}

export interface AppDeps {
  config: Config;
  logger: Logger;
}

/** Largest request body accepted anywhere; auth requests are a few hundred bytes. */
export const BODY_LIMIT = 64 * 1024;

const requestIdPattern = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Fastify's trustProxy from TRUST_PROXY. A hop count becomes the function Fastify itself would
 * make of it (trust the nearest N hops), which its types accept.
 */
export function trustProxyOption(setting: Config["trustProxy"]) {
  if (typeof setting === "number") return (_address: string, hop: number) => hop < setting;
  return setting;
}

/** Builds the auth service with its real dependencies; `server.ts` and the tests both use it. */
export async function buildApp({ config, logger }: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    // One spelling of every path (request-path.ts): what the budgets count is what Better Auth serves.
    ...canonicalTargetOptions,
    loggerInstance: logger,
    // One line per request (written when it is answered, below) instead of Fastify's two: a log
    // write is a system call, and under a storm of shed requests half of them said nothing new.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    // No proxy is trusted until TRUST_PROXY says so (a hop count or the proxies' addresses, never
    // "everyone"): X-Forwarded-For from a client gains nothing. request.ip is the client address
    // that rate limits count and Better Auth records.
    trustProxy: trustProxyOption(config.trustProxy),
    // Unknown fields in a body are refused (400 VALIDATION_ERROR), not silently dropped.
    ajv: { customOptions: { removeAdditional: false } },
    // Keep a request id handed on by the ingress or another temetro service, when it looks sane.
    genReqId: (request) => {
      const incoming = request.headers["x-request-id"];
      return typeof incoming === "string" && requestIdPattern.test(incoming) ? incoming : randomUUID();
    },
  }) as unknown as FastifyInstance;

  app.decorate("config", config);
  app.addHook("onSend", async (request, reply) => {
    reply.header("x-request-id", request.id);
  });
  app.addHook("onResponse", async (request, reply) => {
    request.log.info({ req: request, res: reply, responseTime: reply.elapsedTime }, "request completed");
  });
  // First of all hooks: a target with no canonical spelling is refused before anything counts it.
  await app.register(requestTarget);
  await app.register(errors);
  await app.register(textGuard);
  await app.register(metrics, { metrics: createAuthMetrics(createMetricsRegistry("auth")) });
  // @fastify/cors refuses an OPTIONS that is no preflight (no Origin or no
  // Access-Control-Request-Method) with a text/plain 400: refused here first, in JSON like any 400.
  app.addHook("onRequest", async (request, reply) => {
    if (request.method === "OPTIONS" && !(request.headers.origin && request.headers["access-control-request-method"])) {
      return sendError(reply, 400, ErrorCode.BAD_REQUEST, "Not a CORS preflight request: Origin and Access-Control-Request-Method are required");
    }
  });
  await app.register(cors, { trustedOrigins: config.trustedOrigins });
  await app.register(db, {
    databaseUrl: config.databaseUrl,
    max: config.databasePoolMax,
    connectionTimeoutMs: config.databaseConnectionTimeoutMs,
    statementTimeoutMs: config.databaseStatementTimeoutMs,
  });
  await app.register(sessions, { config });
  await app.register(emailQueue, { redis: config.redis, prefix: config.redisPrefix });
  // Before every route it documents.
  await app.register(publicApiDocs);
  await app.register(health, { redis: config.redis });
  // Before the rate limits: a request that would hash while every slot is taken is refused
  // before it costs a Redis round trip or a body read.
  await app.register(passwordHashing, { concurrency: config.passwordHashConcurrency });
  // After CORS: a browser's preflight is answered before it could use up a sign-in budget.
  await app.register(limiterStore, { redis: config.redis, prefix: config.redisPrefix });
  await app.register(rateLimit, { limits: config.rateLimits });
  await app.register(accountLockout, { policy: config.lockout });
  await app.register(invitationLimits, { perHour: config.invitationsPerHour });
  await app.register(betterAuth, { config });
  await app.register(authRoutes, { prefix: "/api/auth" });
  await app.register(authHelperRoutes, { prefix: "/api/auth-helpers" });
  await app.register(dataRoutes, { prefix: "/api" });
  return app;
}
