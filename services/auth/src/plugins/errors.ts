import type { FastifyError, FastifyReply } from "fastify";
import fp from "fastify-plugin";
import { ErrorCode, HttpError } from "../errors.js";

/**
 * One error handler for the whole service: a 4xx says what was wrong with a stable code; a 5xx
 * says nothing of the internals and is logged with its cause.
 */

const fastifyCodes: Record<string, { status: number; code: ErrorCode; message?: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: ErrorCode.BODY_TOO_LARGE, message: "Request body is too large" },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: ErrorCode.UNSUPPORTED_MEDIA_TYPE, message: "Unsupported content type" },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: ErrorCode.BAD_REQUEST, message: "Content-Length does not match the body" },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: ErrorCode.INVALID_JSON, message: "Body is empty but Content-Type is application/json" },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: ErrorCode.INVALID_JSON, message: "Body is not valid JSON" },
};

// Errors that mean a dependency is down, not that the code is wrong: 503, and the client may retry.
const unavailableCodes = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "57P01", "57P03", "53300"]);

export function sendError(reply: FastifyReply, status: number, code: string, message: string) {
  return reply.status(status).type("application/json; charset=utf-8").send({ error: message, code });
}

export function isDependencyDown(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && unavailableCodes.has(code)) return true;
  const message = (error as Error | null)?.message ?? "";
  return /Connection terminated|timeout exceeded when trying to connect|Connection is closed/i.test(message);
}

export default fp(
  async (app) => {
    app.setErrorHandler((error: FastifyError | HttpError, request, reply) => {
      if (error instanceof HttpError) return sendError(reply, error.statusCode, error.code, error.message);

      const known = error.code ? fastifyCodes[error.code] : undefined;
      if (known) return sendError(reply, known.status, known.code, known.message ?? error.message);

      if ("validation" in error && error.validation) {
        return sendError(reply, 400, ErrorCode.VALIDATION_ERROR, error.message);
      }
      if (error instanceof SyntaxError && error.statusCode === 400) {
        return sendError(reply, 400, ErrorCode.INVALID_JSON, "Body is not valid JSON");
      }
      const status = error.statusCode ?? 500;
      if (status >= 400 && status < 500) return sendError(reply, status, ErrorCode.BAD_REQUEST, error.message);

      if (isDependencyDown(error)) {
        request.log.error({ err: error }, "dependency unavailable");
        reply.header("retry-after", "5");
        return sendError(reply, 503, ErrorCode.SERVICE_UNAVAILABLE, "Service temporarily unavailable");
      }
      request.log.error({ err: error }, "request failed");
      return sendError(reply, 500, ErrorCode.INTERNAL_ERROR, "Internal server error");
    });

    app.setNotFoundHandler((request, reply) =>
      sendError(reply, 404, ErrorCode.NOT_FOUND, `Route ${request.method} ${request.url.split("?")[0]} not found`),
    );
  },
  { name: "errors" },
);
