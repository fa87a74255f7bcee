import rateLimit, { normalizeIP } from "@fastify/rate-limit";
import type { FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import type { RateLimits } from "../config.js";
import { ErrorCode, HttpError } from "../errors.js";
import { sharedOrLocalStore } from "./rate-limit-store.js";
import { pathOf } from "../request-path.js";

/**
 * Requests per client address per window, shared by every replica through Redis. Each request
 * under /api counts against exactly one budget: the costly or abusable operations have small
 * ones of their own, everything else the general ceiling.
 */
type Budget = Exclude<keyof RateLimits, "windowSeconds">;

const budgetsByPath: Record<string, Budget> = {
  // Email and username sign-in share one budget: switching route gains an attacker nothing.
  "/api/auth/sign-in/email": "signIn",
  "/api/auth/sign-in/username": "signIn",
  "/api/auth/sign-up/email": "signUp",
  // Every route that sends a reset email.
  "/api/auth/forget-password": "passwordReset",
  "/api/auth/request-password-reset": "passwordReset",
  "/api/auth-helpers/reset-by-username": "passwordReset",
  "/api/auth/send-verification-email": "verificationEmail",
  "/api/auth/reset-password": "resetCompletion",
};

/** IPv6 clients are counted per /64: one host usually holds a whole /64 and can rotate within it. */
const IPV6_PREFIX_LENGTH = 64;

/** The budget of a request's canonical URL (the only spelling any route sees: request-path.ts). */
export function budgetOf(url: string): Budget | undefined {
  const path = pathOf(url);
  const exact = budgetsByPath[path];
  if (exact) return exact;
  if (path.startsWith("/api/auth/reset-password/")) return "resetCompletion";
  if (path === "/api" || path.startsWith("/api/")) return "api";
  return undefined;
}

export default fp(
  async (app, options: { limits: RateLimits }) => {
    const { limits } = options;
    await app.register(rateLimit, {
      global: false,
      store: sharedOrLocalStore(app.limiterStore),
      // RateLimit-Limit / -Remaining / -Reset (IETF draft) on every limited response, Retry-After on a 429.
      enableDraftSpec: true,
      errorResponseBuilder: (_request, context) =>
        new HttpError(
          429,
          ErrorCode.RATE_LIMITED,
          `Too many requests: retry in ${Math.max(1, Math.ceil(context.ttl / 1000))} seconds`,
        ),
    });

    const clientOf = (request: FastifyRequest) => normalizeIP(request.ip, IPV6_PREFIX_LENGTH);
    const budgets: Budget[] = ["signIn", "signUp", "passwordReset", "verificationEmail", "resetCompletion", "api"];
    const limiters = new Map(
      budgets.map((budget) => [
        budget,
        app.rateLimit({
          max: limits[budget],
          timeWindow: limits.windowSeconds * 1000,
          keyGenerator: (request) => `${budget}:${clientOf(request)}`,
          onExceeded: (request) => {
            request.log.warn({ securityEvent: "rate-limit-exceeded", budget, client: clientOf(request) }, "rate limit exceeded");
            app.metrics.rateLimitHits.inc({ budget });
            if (budget === "signIn") app.metrics.signIns.inc({ outcome: "limited" });
          },
        }),
      ]),
    );

    // onRequest: a limited request is refused before its body is even read.
    app.addHook("onRequest", async function limitByBudget(request, reply) {
      const budget = budgetOf(request.url);
      if (budget) await limiters.get(budget)!.call(this, request, reply);
    });
  },
  { name: "rate-limit", dependencies: ["limiter-store", "errors", "metrics"] },
);
