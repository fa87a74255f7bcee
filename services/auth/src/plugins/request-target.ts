import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { ConnectionError } from "fastify";
import fp from "fastify-plugin";
import { errorCodes } from "@temetro/auth-client/errors";
import { ErrorCode } from "../errors.js";
import { canonicalTarget } from "../request-path.js";
import { sendError } from "./errors.js";

/**
 * Every listener of the service routes, limits and hands on one spelling of each request target
 * (request-path.ts). Fastify's `rewriteUrl` replaces the URL before routing, so every hook, route
 * and Better Auth see only the canonical one; a target that has none is refused with 400
 * INVALID_REQUEST_TARGET by the first onRequest hook, before any budget is counted or body read.
 * Targets Node's HTTP parser refuses itself (authority-form `host:port`, raw non-ASCII bytes) and
 * `CONNECT` get the same answer on the socket.
 */

/** Why a request's target was refused, noted while rewriting (rewriteUrl cannot answer). */
const refusals = new WeakMap<IncomingMessage, string>();

/** What `OPTIONS *` (a question about the server, not a resource) is told. */
const ALLOWED_METHODS = "GET, HEAD, POST, PATCH, DELETE, OPTIONS";

/** Options of every Fastify instance that listens (the public and the internal app). */
export const canonicalTargetOptions = {
  rewriteUrl(request: IncomingMessage): string {
    const target = request.url ?? "";
    const canonical = canonicalTarget(target);
    if ("url" in canonical) return canonical.url;
    refusals.set(request, canonical.refused);
    // Routed (to nothing) on the root only to reach the hook that refuses it: the router would
    // answer a malformed percent-encoding itself, and no log line repeats a spelling that the
    // redaction of tokens in paths cannot recognise (request.originalUrl keeps it).
    return "/";
  },
  clientErrorHandler(error: ConnectionError, socket: Duplex): void {
    if (error.code === "ECONNRESET" || socket.destroyed) return;
    const [status, reason] =
      error.code === "HPE_HEADER_OVERFLOW"
        ? [431, "Request Header Fields Too Large"]
        : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
          ? [408, "Request Timeout"]
          : [400, "Bad Request"];
    const body =
      error.code === "HPE_INVALID_URL"
        ? { error: errorCodes.INVALID_REQUEST_TARGET.message, code: ErrorCode.INVALID_REQUEST_TARGET, message: errorCodes.INVALID_REQUEST_TARGET.message }
        : { error: reason, code: ErrorCode.BAD_REQUEST, message: reason };
    // Nothing is logged: the error carries the raw bytes of the request (its cookies included).
    writeAndClose(socket, status, reason, body, isHeadRequest(error));
  },
};

/** A HEAD request gets no body, even refused: its client would read the body as the next response. */
function isHeadRequest(error: ConnectionError): boolean {
  const raw = (error as ConnectionError & { rawPacket?: Buffer }).rawPacket;
  return raw instanceof Buffer && raw.subarray(0, 5).toString("latin1") === "HEAD ";
}

function writeAndClose(socket: Duplex, status: number, reason: string, body: object, headOnly = false) {
  const text = headOnly ? "" : JSON.stringify(body);
  // As Node's own answer to a client error: written, then the connection ends (what follows is unparseable).
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\n` +
        `Connection: close\r\n\r\n${text}`,
    );
  }
  socket.destroy();
}

export default fp(
  async (app) => {
    // CONNECT asks for a tunnel to the authority it names; this service is nobody's proxy.
    app.server.on("connect", (_request: IncomingMessage, socket: Duplex) =>
      writeAndClose(socket, 400, "Bad Request", { error: errorCodes.INVALID_REQUEST_TARGET.message, code: ErrorCode.INVALID_REQUEST_TARGET }),
    );
    app.addHook("onRequest", (request, reply, done) => {
      const refusal = refusals.get(request.raw);
      if (refusal === undefined) return done();
      if (request.method === "OPTIONS" && request.originalUrl === "*") {
        reply.status(204).header("allow", ALLOWED_METHODS).send();
        return;
      }
      sendError(reply, 400, ErrorCode.INVALID_REQUEST_TARGET, refusal);
    });
  },
  { name: "request-target" },
);
