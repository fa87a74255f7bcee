import fp from "fastify-plugin";
import { ErrorCode, HttpError } from "../errors.js";
import { hasUnstorableText, targetHasUnstorableText } from "../unstorable-text.js";

/**
 * 400 INVALID_TEXT for a NUL or an unpaired surrogate anywhere in a request: its path and query
 * before it is routed on, its parsed body before validation. Better Auth's routes take raw bodies,
 * which their adapter inspects itself (auth/request-body.ts).
 */
export default fp(
  async (app) => {
    app.addHook("onRequest", async (request) => {
      if (targetHasUnstorableText(request.url)) throw new HttpError(ErrorCode.INVALID_TEXT);
    });
    app.addHook("preValidation", async (request) => {
      const body = request.body;
      if (body && typeof body === "object" && !Buffer.isBuffer(body) && hasUnstorableText(body)) {
        throw new HttpError(ErrorCode.INVALID_TEXT);
      }
    });
  },
  { name: "text-guard", dependencies: ["errors"] },
);
