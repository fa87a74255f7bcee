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

// Errors that mean a dependency is down, not that the code is wrong: 503, and the client may retry.
const unavailableCodes = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "57P01", "57P03", "53300"]);

/** Whether an error says PostgreSQL (or Redis) is away: a restart, a refused or cut connection, a full pool. */
export function isDependencyDown(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && unavailableCodes.has(code)) return true;
  const message = (error as Error | null)?.message ?? "";
  return /Connection terminated|timeout exceeded when trying to connect|Connection is closed|not queryable/i.test(message);
}
