import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from "jose";
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

/** Thrown for a token that is not valid: the request is unauthenticated (401). */
export class InvalidTokenError extends Error {
  constructor(readonly reason: string) {
    super(`invalid token: ${reason}`);
    this.name = "InvalidTokenError";
  }
}

// What jose reports about the token itself. Any other failure (the key set unreachable, timing out,
// or answering garbage) is the auth service's, not the caller's: 503, not 401.
const tokenFaults = new Set<string>([
  errors.JWTExpired.code,
  errors.JWTClaimValidationFailed.code,
  errors.JWTInvalid.code,
  errors.JWSInvalid.code,
  errors.JWSSignatureVerificationFailed.code,
  errors.JWKSNoMatchingKey.code,
  errors.JWKSMultipleMatchingKeys.code,
  errors.JOSEAlgNotAllowed.code,
  errors.JOSENotSupported.code,
]);

export type JwtVerifier = (token: string) => Promise<TokenAuth>;

export function createJwtVerifier(options: JwtOptions): JwtVerifier {
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

  return async (token) => {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keySet, verifyOptions));
    } catch (error) {
      const code = (error as { code?: unknown } | null)?.code;
      if (typeof code === "string" && tokenFaults.has(code)) throw new InvalidTokenError(code);
      throw new AuthUnavailableError(`key set unavailable${typeof code === "string" ? ` (${code})` : ""}`);
    }
    const { sub, clinic, role, iat, exp } = payload as JWTPayload & { clinic?: unknown; role?: unknown };
    if (typeof sub !== "string" || sub === "") throw new InvalidTokenError("no subject");
    const member = typeof clinic === "string" && clinic !== "" && typeof role === "string" && role !== "";
    return {
      via: "jwt",
      user: { id: sub },
      clinic: member ? { id: clinic, role, permissions: permissionsOf(role) } : null,
      token: { issuedAt: iat!, expiresAt: exp! },
    };
  };
}
