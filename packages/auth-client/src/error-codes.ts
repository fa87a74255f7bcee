/**
 * Every error code temetro's auth service and this client send, with its HTTP status (where one
 * code always has the same) and its one message. Clients switch on codes: rename none. A body may
 * carry a more specific message than the one here (which field failed validation, how many seconds
 * to wait), never a different meaning. The README's Errors table lists exactly these codes
 * (services/auth/test/error-codes.test.ts).
 */
export const errorCodes = {
  // Who is asking, and may they (the /api guard and this client's hooks)
  UNAUTHENTICATED: { status: 401, message: "Sign in first: no valid session" },
  NO_ACTIVE_CLINIC: { status: 403, message: "Choose a clinic first (POST /api/auth/organization/set-active)" },
  NOT_A_CLINIC_MEMBER: { status: 403, message: "You are not a member of this clinic" },
  PASSWORD_CHANGE_REQUIRED: { status: 403, message: "Replace the initial password first (POST /api/auth/change-password)" },
  FORBIDDEN: { status: 403, message: "Your role in this clinic does not allow this" },
  INTERNAL_TOKEN_REQUIRED: { status: 401, message: "Present the internal token: Authorization: Bearer <INTERNAL_TOKEN>" },
  // Sent by both services' /metrics (shared/src/metrics-route.ts).
  METRICS_TOKEN_REQUIRED: { status: 401, message: "Present the metrics token: Authorization: Bearer <METRICS_TOKEN, or INTERNAL_TOKEN>" },
  ACCOUNT_DISABLED: { status: 403, message: "This account has been disabled" },
  // Who may open an account or a clinic (SIGN_UP, CLINIC_CREATION; services/auth/src/auth/opening-rules.ts).
  SIGN_UP_CLOSED: { status: 403, message: "Sign-up is closed on this service: an administrator of your clinic creates your account" },
  SIGN_UP_INVITE_ONLY: { status: 403, message: "Sign-up is by invitation only: ask a clinic to invite this address first" },
  CLINIC_CREATION_CLOSED: { status: 403, message: "Creating clinics is closed on this service: an administrator creates them" },

  // Clinic membership and staff accounts
  MEMBER_NOT_FOUND: { status: 404, message: "No such member in this clinic" },
  USERNAME_TAKEN: { status: 409, message: "This username is taken" },
  EMAIL_TAKEN: { status: 409, message: "An account with this email already exists" },
  // The same on Better Auth's organization routes and /api (services/auth/src/clinics/membership.ts).
  OWNER_ROLE_PROTECTED: {
    status: 409,
    message: "The owner is changed only by transferring ownership (POST /api/clinic/transfer-ownership)",
  },
  ROLE_NOT_ASSIGNABLE: {
    status: 400,
    message: "This role cannot be given here; ownership moves only by transfer (POST /api/clinic/transfer-ownership)",
  },
  NOT_A_CLINIC_ACCOUNT: {
    status: 403,
    message: "Only the password of an account this clinic created can be set; this person can reset their own",
  },
  ACCOUNT_CLAIMED: {
    status: 403,
    message: "This account's owner has taken it over (verified the address, reset the password or joined another clinic): only they can change it",
  },
  PASSWORD_UNCHANGED: { status: 400, message: "The new password must differ from the current one" },
  // A new password, on every entrance that sets one (services/auth/src/sign-in/password-rules.ts).
  PASSWORD_TOO_SHORT: { status: 400, message: "A password is at least 12 characters" },
  PASSWORD_TOO_LONG: { status: 400, message: "A password is at most 128 characters" },
  PASSWORD_TOO_COMMON: {
    status: 400,
    message: "This password is too common (on a list of passwords people often choose, or a few characters repeated): choose another",
  },
  // Also Better Auth's own answer to signing in before verifying, when verification is required.
  EMAIL_NOT_VERIFIED: {
    status: 403,
    message: "Verify your email address first: an unverified account cannot send emails to others (invitations, staff accounts with an email)",
  },
  CONFLICT: { status: 409, message: "The request conflicts with the current state" },

  // What was sent
  NOT_FOUND: { status: 404, message: "Not found" },
  INVALID_REQUEST_TARGET: {
    status: 400,
    message: "The request target must be a path (origin-form), without an encoded slash or characters outside a URL path",
  },
  INVALID_JSON: { status: 400, message: "Body is not valid JSON" },
  INVALID_TEXT: { status: 400, message: "Text fields must not contain NUL characters or unpaired surrogates" },
  INVALID_NAME: { status: 400, message: "A name is 1 to 100 characters, without control characters" },
  INVALID_SLUG: {
    status: 400,
    message: "A clinic's slug is 3 to 63 lowercase letters, digits and hyphens, starting and ending with a letter or digit",
  },
  EMAIL_DOMAIN_RESERVED: { status: 400, message: "This email domain is reserved by temetro: use a real address" },
  BODY_TOO_LARGE: { status: 413, message: "Request body is too large" },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: "Unsupported content type" },
  VALIDATION_ERROR: { status: 400, message: "The request is not valid" },
  // Any other refusal of a malformed request: a 4xx status of its own (405, 422...) keeps this code.
  BAD_REQUEST: { status: undefined, message: "Request refused" },
  RATE_LIMITED: { status: 429, message: "Too many requests: retry later" },

  // The service itself
  SERVICE_UNAVAILABLE: { status: 503, message: "Service temporarily unavailable" },
  NOT_READY: { status: 503, message: "Not ready" },
  SHUTTING_DOWN: { status: 503, message: "Shutting down" },
  INTERNAL_ERROR: { status: 500, message: "Internal server error" },
  // Why this client refused a bearer JWT, one code per check (InvalidTokenError.code from
  // @temetro/auth-client/core). The HTTP answer stays 401 UNAUTHENTICATED and names this code in
  // its WWW-Authenticate header.
  TOKEN_MALFORMED: { status: 401, message: "The bearer token is not a well-formed signed JWT" },
  TOKEN_SIGNATURE_INVALID: {
    status: 401,
    message: "The bearer token's signature does not verify with the auth service's published keys and allowed algorithms",
  },
  TOKEN_ISSUER_INVALID: { status: 401, message: "The bearer token was issued by another auth service (its iss claim)" },
  TOKEN_AUDIENCE_INVALID: { status: 401, message: "The bearer token is meant for another audience (its aud claim)" },
  TOKEN_EXPIRED: { status: 401, message: "The bearer token has expired or was issued too long ago (its exp or iat claim): get a new one" },
  TOKEN_CLAIMS_INVALID: { status: 401, message: "The bearer token lacks a required claim (sub, iat, exp) or one is not valid yet" },
  /** Sent by this client, never by the auth service: the auth service (or its JWKS) could not be asked. */
  AUTH_UNAVAILABLE: { status: 503, message: "The authentication service is unavailable; try again shortly" },
} as const satisfies Record<string, { status: number | undefined; message: string }>;

export type ErrorCode = keyof typeof errorCodes;

/** The codes by name, so a typo is a compile error: `ErrorCode.FORBIDDEN`. */
export const ErrorCode = Object.fromEntries(Object.keys(errorCodes).map((code) => [code, code])) as {
  readonly [Code in ErrorCode]: Code;
};

/** Codes whose status is always the same: an error can be made from the code alone. */
export type FixedStatusCode = { [Code in ErrorCode]: (typeof errorCodes)[Code]["status"] extends number ? Code : never }[ErrorCode];

/**
 * The error body of every temetro service: `{ "error": <message>, "code": <code>, "message": <message> }`.
 * `message` is what Better Auth's client shows; `error` says the same for older clients.
 */
export interface ErrorBody {
  error: string;
  code: string;
  message: string;
}
