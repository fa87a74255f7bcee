import { ErrorCode, errorCodes, type ErrorBody } from "./error-codes.js";
import type { TokenErrorCode } from "./jwt.js";

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

/** Why a request was refused; `responseOf` turns it into the HTTP answer. */
export class AuthRefusal extends Error {
  readonly statusCode: (typeof errorCodes)[AuthErrorCode]["status"];

  constructor(
    readonly code: AuthErrorCode,
    message: string = errorCodes[code].message,
    /** For a refused bearer token: which check it failed (sent in WWW-Authenticate, not in the body). */
    readonly tokenError?: TokenErrorCode,
  ) {
    super(message);
    this.name = "AuthRefusal";
    this.statusCode = errorCodes[code].status;
  }
}

/** A service using this client refuses requests exactly as the auth service does. */
export const refusals = {
  unauthenticated: () => new AuthRefusal(AuthErrorCode.UNAUTHENTICATED),
  invalidToken: (tokenError?: TokenErrorCode) => new AuthRefusal(AuthErrorCode.UNAUTHENTICATED, "The bearer token is not valid", tokenError),
  liveSessionRequired: () =>
    new AuthRefusal(AuthErrorCode.UNAUTHENTICATED, "This route needs a live session: send the session cookie (a token is not enough)"),
  noActiveClinic: () => new AuthRefusal(AuthErrorCode.NO_ACTIVE_CLINIC),
  passwordChangeRequired: () => new AuthRefusal(AuthErrorCode.PASSWORD_CHANGE_REQUIRED),
  forbidden: () => new AuthRefusal(AuthErrorCode.FORBIDDEN),
  unavailable: () => new AuthRefusal(AuthErrorCode.AUTH_UNAVAILABLE),
};

/** A refusal as an HTTP answer, whatever framework sends it. */
export interface RefusalResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: AuthErrorBody;
}

export function responseOf(refusal: AuthRefusal): RefusalResponse {
  const headers: Record<string, string> = { "content-type": "application/json; charset=utf-8" };
  // X-Retry-After is what Better Auth's client reads; Retry-After what everyone else does.
  if (refusal.statusCode === 503) headers["retry-after"] = headers["x-retry-after"] = "5";
  if (refusal.statusCode === 401) {
    // RFC 6750's invalid_token, with the failed check as its description: a caller (or the
    // developer of one) sees why its token was refused without the body's contract changing.
    headers["www-authenticate"] = refusal.tokenError
      ? `Bearer realm="temetro", error="invalid_token", error_description="${refusal.tokenError}"`
      : 'Bearer realm="temetro"';
  }
  return { statusCode: refusal.statusCode, headers, body: { error: refusal.message, code: refusal.code, message: refusal.message } };
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
