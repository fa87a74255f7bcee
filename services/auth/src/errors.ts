import { APIError } from "better-auth/api";
import { ErrorCode, errorCodes, type FixedStatusCode } from "@temetro/auth-client/errors";

/**
 * The error contract of every non-Better-Auth route: `{ "error": <message>, "code": <STABLE_CODE> }`.
 * The codes, their statuses and messages live once, in @temetro/auth-client's registry, which the
 * client's refusals use too.
 */
export { ErrorCode, type ErrorBody } from "@temetro/auth-client/errors";

/**
 * A refusal the error handler answers as it is. `new HttpError(code)` takes the code's fixed status
 * and its registry message; a more specific message may be given (what exactly failed). Codes whose
 * status varies take it first: `new HttpError(409, code, message?)`.
 */
export class HttpError extends Error {
  readonly statusCode: number;
  readonly code: ErrorCode;

  constructor(code: FixedStatusCode, message?: string);
  constructor(statusCode: number, code: ErrorCode, message?: string);
  constructor(first: number | FixedStatusCode, second?: string, third?: string) {
    const [statusCode, code, message] =
      typeof first === "number"
        ? [first, second as ErrorCode, third]
        : [errorCodes[first].status, first, second];
    super(message ?? errorCodes[code].message);
    this.name = "HttpError";
    this.statusCode = statusCode;
    this.code = code;
  }
}

/**
 * The same refusal raised inside Better Auth (its hooks, plugins and password callbacks): Better
 * Auth answers it with the registry's status, code and message, like every other route does.
 */
export function betterAuthRefusal(code: FixedStatusCode, headers?: Record<string, string>): APIError {
  const { status, message } = errorCodes[code];
  return new APIError(status as ConstructorParameters<typeof APIError>[0], { code, message }, headers);
}

// Errors that mean a dependency is down, not that the code is wrong: 503, and the client may retry.
// 57014: a statement cancelled by DATABASE_STATEMENT_TIMEOUT_MS (stuck behind a lock, or PostgreSQL overloaded).
const unavailableCodes = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "57P01", "57P03", "53300", "57014"]);

/** Whether an error says PostgreSQL (or Redis) is away: a restart, a refused or cut connection, a full pool. */
export function isDependencyDown(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && unavailableCodes.has(code)) return true;
  const message = (error as Error | null)?.message ?? "";
  return /Connection terminated|timeout exceeded when trying to connect|Connection is closed|not queryable/i.test(message);
}
