import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from "jose";
import { ErrorCode, errorCodes } from "./error-codes.js";
import { AuthUnavailableError } from "./errors.js";
import { permissionsOf } from "./roles.js";
import type { TokenAuth } from "./types.js";
export interface JwtOptions {
  /** The auth service's key set, `GET /api/auth/jwks`; fetched and cached by jose. */
  jwksUrl: string;
  /** The auth service's BETTER_AUTH_URL: the tokens' `iss`. */
  issuer: string;
  /** The auth service's JWT_AUDIENCE (default "temetro"): the tokens' `aud`. */
  audience: string | readonly string[];
  /** Signature algorithms accepted (default ["EdDSA"]); anything else is refused. */
  algorithms?: readonly string[] | undefined;
  /** Tokens issued longer ago than this are refused whatever their `exp` (default 300: the auth service's 5 minutes). */
  maxTokenAgeSec?: number | undefined;
  /** Clock skew tolerated on `exp`, `iat` and `nbf` (default 5 s). */
  clockToleranceSec?: number | undefined;
  /** Give up on fetching the key set after this long (default 2000 ms): the request gets a 503. */
  timeoutMs?: number | undefined;
}

/** Which check a bearer token failed: one stable code per claim (the registry's TOKEN_* codes). */
export const TokenErrorCode = {
  TOKEN_MALFORMED: ErrorCode.TOKEN_MALFORMED,
  TOKEN_SIGNATURE_INVALID: ErrorCode.TOKEN_SIGNATURE_INVALID,
  TOKEN_ISSUER_INVALID: ErrorCode.TOKEN_ISSUER_INVALID,
  TOKEN_AUDIENCE_INVALID: ErrorCode.TOKEN_AUDIENCE_INVALID,
  TOKEN_EXPIRED: ErrorCode.TOKEN_EXPIRED,
  TOKEN_CLAIMS_INVALID: ErrorCode.TOKEN_CLAIMS_INVALID,
} as const;

export type TokenErrorCode = (typeof TokenErrorCode)[keyof typeof TokenErrorCode];

/**
 * Thrown for a token that is not valid: the request is unauthenticated (401). `code` says which
 * check failed; the message never quotes the token or its claims' values.
 */
export class InvalidTokenError extends Error {
  constructor(
    readonly code: TokenErrorCode,
    /** The JWT claim that failed, when one did (`exp`, `iss`, `aud`, `sub`...). */
    readonly claim?: string,
  ) {
    super(errorCodes[code].message);
    this.name = "InvalidTokenError";
  }

  /** For logs: the code and the claim. */
  get reason(): string {
    return this.claim ? `${this.code} (${this.claim})` : this.code;
  }
}

/**
 * What jose reports about the token itself, by the check that failed. Any other failure (the key set
 * unreachable, timing out, or answering garbage) is the auth service's, not the caller's: 503, not 401.
 */
function tokenErrorOf(error: unknown): InvalidTokenError | undefined {
  if (error instanceof errors.JWTExpired) return new InvalidTokenError(TokenErrorCode.TOKEN_EXPIRED, error.claim);
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === "iss") return new InvalidTokenError(TokenErrorCode.TOKEN_ISSUER_INVALID, "iss");
    if (error.claim === "aud") return new InvalidTokenError(TokenErrorCode.TOKEN_AUDIENCE_INVALID, "aud");
    return new InvalidTokenError(TokenErrorCode.TOKEN_CLAIMS_INVALID, error.claim);
  }
  if (
    error instanceof errors.JWSSignatureVerificationFailed ||
    error instanceof errors.JWKSNoMatchingKey ||
    error instanceof errors.JWKSMultipleMatchingKeys ||
    error instanceof errors.JOSEAlgNotAllowed
  ) {
    return new InvalidTokenError(TokenErrorCode.TOKEN_SIGNATURE_INVALID);
  }
  if (error instanceof errors.JWTInvalid || error instanceof errors.JWSInvalid || error instanceof errors.JOSENotSupported) {
    return new InvalidTokenError(TokenErrorCode.TOKEN_MALFORMED);
  }
  return undefined;
}

export interface TokenVerifier {
  /**
   * Who a bearer JWT from GET /api/auth/token belongs to. Throws InvalidTokenError (its `code`
   * names the failed check) or AuthUnavailableError (the key set could not be fetched).
   */
  verifyToken(token: string): Promise<TokenAuth>;
}

export function createTokenVerifier(options: JwtOptions): TokenVerifier {
  const keySet = createRemoteJWKSet(new URL(options.jwksUrl), { timeoutDuration: options.timeoutMs ?? 2000 });
  const algorithms = [...(options.algorithms ?? ["EdDSA"])];
  if (algorithms.length === 0 || algorithms.some((alg) => alg.toLowerCase() === "none")) {
    throw new TypeError('jwt.algorithms must list signature algorithms (and never "none")');
  }
  const verifyOptions = {
    algorithms,
    issuer: options.issuer,
    audience: typeof options.audience === "string" ? options.audience : [...options.audience],
    maxTokenAge: options.maxTokenAgeSec ?? 300,
    clockTolerance: options.clockToleranceSec ?? 5,
    requiredClaims: ["sub", "exp", "iat"],
  };

  async function verifyToken(token: string): Promise<TokenAuth> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keySet, verifyOptions));
    } catch (error) {
      const refusal = tokenErrorOf(error);
      if (refusal) throw refusal;
      const code = (error as { code?: unknown } | null)?.code;
      throw new AuthUnavailableError(`key set unavailable${typeof code === "string" ? ` (${code})` : ""}`);
    }
    const { sub, clinic, role, iat, exp } = payload as JWTPayload & { clinic?: unknown; role?: unknown };
    if (typeof sub !== "string" || sub === "") throw new InvalidTokenError(TokenErrorCode.TOKEN_CLAIMS_INVALID, "sub");
    const member = typeof clinic === "string" && clinic !== "" && typeof role === "string" && role !== "";
    return {
      via: "jwt",
      user: { id: sub },
      clinic: member ? { id: clinic, role, permissions: permissionsOf(role) } : null,
      token: { issuedAt: iat!, expiresAt: exp! },
    };
  }

  return { verifyToken };
}
