/**
 * The error contract of every non-Better-Auth route: `{ "error": <message>, "code": <STABLE_CODE> }`.
 * Codes are stable API: clients switch on them, so rename none.
 */
export const ErrorCode = {
  UNAUTHENTICATED: "UNAUTHENTICATED",
  NO_ACTIVE_CLINIC: "NO_ACTIVE_CLINIC",
  NOT_A_CLINIC_MEMBER: "NOT_A_CLINIC_MEMBER",
  FORBIDDEN: "FORBIDDEN",
  INTERNAL_TOKEN_REQUIRED: "INTERNAL_TOKEN_REQUIRED",
  PASSWORD_CHANGE_REQUIRED: "PASSWORD_CHANGE_REQUIRED",
  MEMBER_NOT_FOUND: "MEMBER_NOT_FOUND",
  USERNAME_TAKEN: "USERNAME_TAKEN",
  EMAIL_TAKEN: "EMAIL_TAKEN",
  OWNER_ROLE_PROTECTED: "OWNER_ROLE_PROTECTED",
  NOT_A_CLINIC_ACCOUNT: "NOT_A_CLINIC_ACCOUNT",
  NOT_FOUND: "NOT_FOUND",
  INVALID_JSON: "INVALID_JSON",
  INVALID_TEXT: "INVALID_TEXT",
  BODY_TOO_LARGE: "BODY_TOO_LARGE",
  UNSUPPORTED_MEDIA_TYPE: "UNSUPPORTED_MEDIA_TYPE",
  VALIDATION_ERROR: "VALIDATION_ERROR",
  BAD_REQUEST: "BAD_REQUEST",
  RATE_LIMITED: "RATE_LIMITED",
  CONFLICT: "CONFLICT",
  SERVICE_UNAVAILABLE: "SERVICE_UNAVAILABLE",
  INTERNAL_ERROR: "INTERNAL_ERROR",
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface ErrorBody {
  error: string;
  code: string;
}

export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "HttpError";
  }
}
