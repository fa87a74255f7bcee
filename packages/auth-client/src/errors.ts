import type { FastifyReply } from "fastify";
import { ErrorCode, errorCodes, type ErrorBody } from "./error-codes.js";

/** The codes this client refuses with; their messages are the auth service's own (error-codes.ts). */
export const AuthErrorCode = {
  UNAUTHENTICATED: ErrorCode.UNAUTHENTICATED,
  NO_ACTIVE_CLINIC: ErrorCode.NO_ACTIVE_CLINIC,
  PASSWORD_CHANGE_REQUIRED: ErrorCode.PASSWORD_CHANGE_REQUIRED,
  FORBIDDEN: ErrorCode.FORBIDDEN,
  AUTH_UNAVAILABLE: ErrorCode.AUTH_UNAVAILABLE,
} as const;

export type AuthErrorCode = (typeof AuthErrorCode)[keyof typeof AuthErrorCode];

export interface AuthErrorBody extends ErrorBody {
  code: AuthErrorCode;
}

/** Why a request was refused; the hooks turn it into the response. */
export class AuthRefusal extends Error {
  readonly statusCode: (typeof errorCodes)[AuthErrorCode]["status"];

  constructor(
    readonly code: AuthErrorCode,
    message: string = errorCodes[code].message,
  ) {
    super(message);
    this.name = "AuthRefusal";
    this.statusCode = errorCodes[code].status;
  }
}

/** A service using this client refuses requests exactly as the auth service does. */
export const refusals = {
  unauthenticated: () => new AuthRefusal(AuthErrorCode.UNAUTHENTICATED),
  invalidToken: () => new AuthRefusal(AuthErrorCode.UNAUTHENTICATED, "The bearer token is not valid"),
  liveSessionRequired: () =>
    new AuthRefusal(AuthErrorCode.UNAUTHENTICATED, "This route needs a live session: send the session cookie (a token is not enough)"),
  noActiveClinic: () => new AuthRefusal(AuthErrorCode.NO_ACTIVE_CLINIC),
  passwordChangeRequired: () => new AuthRefusal(AuthErrorCode.PASSWORD_CHANGE_REQUIRED),
  forbidden: () => new AuthRefusal(AuthErrorCode.FORBIDDEN),
  unavailable: () => new AuthRefusal(AuthErrorCode.AUTH_UNAVAILABLE),
};

/** Answers the refusal directly, whatever error handler the service has. */
export function sendRefusal(reply: FastifyReply, refusal: AuthRefusal): FastifyReply {
  // X-Retry-After is what Better Auth's client reads; Retry-After what everyone else does.
  if (refusal.statusCode === 503) reply.header("retry-after", "5").header("x-retry-after", "5");
  if (refusal.statusCode === 401) reply.header("www-authenticate", 'Bearer realm="temetro"');
  return reply
    .code(refusal.statusCode)
    .type("application/json; charset=utf-8")
    .send({ error: refusal.message, code: refusal.code, message: refusal.message } satisfies AuthErrorBody);
}

/**
 * The auth service or its key set could not answer. `reason` is for the log: it never holds a
 * cookie or a token.
 */
export class AuthUnavailableError extends Error {
  constructor(readonly reason: string) {
    super(`auth service unavailable: ${reason}`);
    this.name = "AuthUnavailableError";
  }
}
