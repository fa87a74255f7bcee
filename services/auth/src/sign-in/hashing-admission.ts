import type { FastifyReply, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import { ErrorCode } from "../errors.js";
import { createPasswordHasher, HASHING_BUSY_MESSAGE, HASHING_BUSY_RETRY_AFTER_SECONDS, type PasswordHasher } from "./password-hasher.js";
import { pathOf } from "../request-path.js";

declare module "fastify" {
  interface FastifyInstance {
    /** This process's bounded password hashing (see sign-in/password-hasher.ts). */
    passwordHasher: PasswordHasher;
  }
}

/** Better Auth's routes that hash or verify a password (sign-in hashes even for an unknown account). */
const hashingPaths = new Set(
  ["sign-in/email", "sign-in/username", "sign-up/email", "reset-password", "change-password", "verify-password", "delete-user"].map(
    (path) => `/api/auth/${path}`,
  ),
);

export function isHashingRequest(request: FastifyRequest): boolean {
  return request.method === "POST" && hashingPaths.has(pathOf(request.url));
}

/** The answer of a request that found every hashing slot taken. */
export function sendHashingBusy(request: FastifyRequest, reply: FastifyReply, signIns: { inc(labels: { outcome: "busy" }): void }) {
  request.log.warn({ securityEvent: "password-hashing-saturated" }, "every password-hashing slot is taken");
  if (pathOf(request.url).startsWith("/api/auth/sign-in/")) signIns.inc({ outcome: "busy" });
  reply.header("retry-after", String(HASHING_BUSY_RETRY_AFTER_SECONDS));
  return reply
    .status(503)
    .type("application/json; charset=utf-8")
    .send({ error: HASHING_BUSY_MESSAGE, code: ErrorCode.SERVICE_UNAVAILABLE, message: HASHING_BUSY_MESSAGE });
}

/**
 * The process's password hasher, and the cheapest possible refusal when it is full: a request
 * that would hash is answered 503 on arrival, before its body is read, its rate-limit count is
 * taken from Redis or anything else runs. Under a storm the shed requests then cost next to
 * nothing, and the CPU goes to the hashes of the admitted ones. The slot itself is taken by the
 * route (auth/routes.ts), for the whole time Better Auth handles the request.
 */
export default fp(
  async (app, options: { concurrency: number }) => {
    const passwordHasher = createPasswordHasher(options.concurrency, (operation, seconds) =>
      app.metrics.passwordHashDuration.observe({ operation }, seconds),
    );
    app.decorate("passwordHasher", passwordHasher);
    app.addHook("onRequest", async (request, reply) => {
      if (passwordHasher.available > 0 || !isHashingRequest(request)) return;
      passwordHasher.noteRefused();
      return sendHashingBusy(request, reply, app.metrics.signIns);
    });
  },
  { name: "password-hashing", dependencies: ["metrics"] },
);
