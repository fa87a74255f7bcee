import type { FastifyReply, FastifyRequest } from "fastify";
import { createLogger, redactUrl, type Logger } from "@temetro/shared";
import type { Config } from "./config.js";
import { pino, type DestinationStream } from "pino";

/** The auth service's logger (JSON, or pretty for a person): request lines carry the request id, never a token or cookie. */
export function createServiceLogger(config: Pick<Config, "logLevel"> & Partial<Pick<Config, "logFormat">>, destination?: DestinationStream): Logger {
  return createLogger(destination, {
    name: "auth",
    level: config.logLevel,
    format: config.logFormat ?? "json",
    serializers: {
      req: (request: FastifyRequest) => ({
        method: request.method,
        url: redactUrl(request.url),
        remoteAddress: request.ip,
      }),
      res: (reply: FastifyReply) => ({ statusCode: reply.statusCode }),
      err: pino.stdSerializers.err,
    },
  });
}
