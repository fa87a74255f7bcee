import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { isAPIError } from "better-auth/api";
import fp from "fastify-plugin";
import { errorCodes } from "@temetro/auth-client/errors";
import { ErrorCode, HttpError, isDependencyDown, type ErrorBody } from "../errors.js";

/**
 * One error handler for the whole service: a 4xx says what was wrong with a stable code; a 5xx
 * says nothing of the internals and is logged with its cause.
 */

/** Fastify's own refusals of a body, in this service's codes (and statuses, where the code has none fixed). */
const fastifyCodes: Record<string, { code: ErrorCode; status?: number; message?: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { code: ErrorCode.BODY_TOO_LARGE },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: ErrorCode.UNSUPPORTED_MEDIA_TYPE },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: ErrorCode.BAD_REQUEST, status: 400, message: "Content-Length does not match the body" },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: ErrorCode.INVALID_JSON, message: "Body is empty but Content-Type is application/json" },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: ErrorCode.INVALID_JSON },
};

/** Answers `{ error, code, message }`; without a message, the code's own from the registry. */
export function sendError(reply: FastifyReply, status: number, code: ErrorCode, message: string = errorCodes[code].message) {
  return sendErrorBody(reply, status, code, message);
}

// Also for Better Auth's codes, which are not ours to list. `message` is what Better Auth's client
// shows its user, `error` what temetro's own clients have always read: both say the same.
function sendErrorBody(reply: FastifyReply, status: number, code: string, message: string) {
  return reply
    .status(status)
    .type("application/json; charset=utf-8")
    .send({ error: message, code, message } satisfies ErrorBody);
}

/** The answer when PostgreSQL (or another dependency) is away: the client may retry shortly. */
export function sendDependencyDown(request: FastifyRequest, reply: FastifyReply, error: unknown) {
  request.log.error({ err: error }, "dependency unavailable");
  reply.header("retry-after", String(DEPENDENCY_RETRY_AFTER_SECONDS));
  return sendError(reply, 503, ErrorCode.SERVICE_UNAVAILABLE);
}

/** Seconds a client is asked to wait when a dependency is away. */
export const DEPENDENCY_RETRY_AFTER_SECONDS = 5;

/** A delay in seconds, the only form of Retry-After this service sends (never an HTTP date). */
const delaySeconds = /^\d+$/;

export default fp(
  async (app) => {
    // Better Auth's client waits for X-Retry-After, not Retry-After: whoever asked a client to wait
    // (a rate limit, a busy hasher, a dependency away) is heard by both kinds of client.
    app.addHook("onSend", async (_request, reply) => {
      const retryAfter = reply.getHeader("retry-after");
      if (retryAfter === undefined || reply.hasHeader("x-retry-after")) return;
      if (delaySeconds.test(String(retryAfter))) reply.header("x-retry-after", String(retryAfter));
    });
    app.setErrorHandler((error: FastifyError | HttpError, request, reply) => {
      if (error instanceof HttpError) return sendError(reply, error.statusCode, error.code, error.message);
      // Better Auth's errors raised outside its own routes (the bounded hasher's 503, in the staff
      // routes): their status, code and headers (Retry-After) as Better Auth would answer them.
      if (isAPIError(error)) {
        for (const [name, value] of Object.entries(error.headers ?? {})) reply.header(name, value);
        const body = error.body as { code?: unknown } | undefined;
        const code = typeof body?.code === "string" ? body.code : error.statusCode >= 500 ? ErrorCode.INTERNAL_ERROR : ErrorCode.BAD_REQUEST;
        return sendErrorBody(reply, error.statusCode, code, error.message);
      }

      const known = error.code ? fastifyCodes[error.code] : undefined;
      if (known) return sendError(reply, known.status ?? errorCodes[known.code].status ?? 400, known.code, known.message);

      if ("validation" in error && error.validation) {
        return sendError(reply, 400, ErrorCode.VALIDATION_ERROR, error.message);
      }
      if (error instanceof SyntaxError && error.statusCode === 400) {
        return sendError(reply, 400, ErrorCode.INVALID_JSON);
      }
      const status = error.statusCode ?? 500;
      if (status >= 400 && status < 500) return sendError(reply, status, ErrorCode.BAD_REQUEST, error.message);

      if (isDependencyDown(error)) return sendDependencyDown(request, reply, error);
      request.log.error({ err: error }, "request failed");
      return sendError(reply, 500, ErrorCode.INTERNAL_ERROR);
    });

    app.setNotFoundHandler((request, reply) =>
      sendError(reply, 404, ErrorCode.NOT_FOUND, `Route ${request.method} ${request.url.split("?")[0]} not found`),
    );
  },
  { name: "errors" },
);
