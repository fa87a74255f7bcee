import type { FastifyReply } from "fastify";

/**
 * The auth service's error contract, `{ "error": <message>, "code": <STABLE_CODE> }`, with its codes:
 * a service using this client refuses requests exactly as the auth service does.
 */
export const AuthErrorCode = {
  UNAUTHENTICATED: "UNAUTHENTICATED",
  NO_ACTIVE_CLINIC: "NO_ACTIVE_CLINIC",
  PASSWORD_CHANGE_REQUIRED: "PASSWORD_CHANGE_REQUIRED",
  FORBIDDEN: "FORBIDDEN",
  /** The auth service (or its JWKS) could not be asked: 503, the caller may retry. */
  AUTH_UNAVAILABLE: "AUTH_UNAVAILABLE",
} as const;

export type AuthErrorCode = (typeof AuthErrorCode)[keyof typeof AuthErrorCode];

export interface AuthErrorBody {
  error: string;
  code: AuthErrorCode;
}

/** Why a request was refused; the hooks turn it into the response. */
export class AuthRefusal extends Error {
  constructor(
    readonly statusCode: 401 | 403 | 503,
    readonly code: AuthErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "AuthRefusal";
  }
}

export const refusals = {
  unauthenticated: () => new AuthRefusal(401, AuthErrorCode.UNAUTHENTICATED, "Sign in first: no valid session"),
  invalidToken: () => new AuthRefusal(401, AuthErrorCode.UNAUTHENTICATED, "The bearer token is not valid"),
  noActiveClinic: () =>
    new AuthRefusal(403, AuthErrorCode.NO_ACTIVE_CLINIC, "Choose a clinic first (POST /api/auth/organization/set-active)"),
  passwordChangeRequired: () =>
    new AuthRefusal(403, AuthErrorCode.PASSWORD_CHANGE_REQUIRED, "Replace the initial password first (POST /api/auth/change-password)"),
  forbidden: () => new AuthRefusal(403, AuthErrorCode.FORBIDDEN, "Your role in this clinic does not allow this"),
  unavailable: () => new AuthRefusal(503, AuthErrorCode.AUTH_UNAVAILABLE, "The authentication service is unavailable; try again shortly"),
};

/** Answers the refusal directly, whatever error handler the service has. */
export function sendRefusal(reply: FastifyReply, refusal: AuthRefusal): FastifyReply {
  if (refusal.statusCode === 503) reply.header("retry-after", "5");
  if (refusal.statusCode === 401) reply.header("www-authenticate", 'Bearer realm="temetro"');
  return reply
    .code(refusal.statusCode)
    .type("application/json; charset=utf-8")
    .send({ error: refusal.message, code: refusal.code } satisfies AuthErrorBody);
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
