import { AuthUnavailableError, refusals } from "./errors.js";
import { createIntrospector, type IntrospectionOptions } from "./introspection.js";
import { createTokenVerifier, InvalidTokenError, type JwtOptions } from "./jwt.js";
import { grants, type ClinicalPermissionRequest } from "./roles.js";
import type { RequestAuth, SessionClinic, TokenAuth } from "./types.js";

export interface AuthClientOptions extends IntrospectionOptions {
  /**
   * Accept `Authorization: Bearer <jwt>` from GET /api/auth/token, checked against the JWKS.
   * Without it the Authorization header is ignored and only the session cookie counts.
   */
  jwt?: JwtOptions | undefined;
}

/** The request headers that carry credentials, as any HTTP framework gives them. */
export interface CredentialHeaders {
  cookie?: string | undefined;
  authorization?: string | undefined;
}

/** Where the authenticator reports why it refused or failed (pino's and console's shape). Never given a credential. */
export interface AuthLog {
  info(fields: { reason: string }, message: string): void;
  error(fields: { reason: string }, message: string): void;
}

export interface Authenticator {
  /**
   * Who the request belongs to (null: nobody). A bearer token, when `jwt` is configured and one is
   * presented, decides alone; otherwise the session cookie is introspected. Throws AuthRefusal:
   * 401 for a bad token (its `tokenError` names the failed check), 503 when the auth service
   * cannot be asked.
   */
  authenticate(headers: CredentialHeaders, log?: AuthLog): Promise<RequestAuth | null>;
  /** Who the session cookie belongs to, asked of the auth service now: no cache, no bearer token. */
  authenticateLive(headers: CredentialHeaders, log?: AuthLog): Promise<RequestAuth | null>;
}

export function createAuthenticator(options: AuthClientOptions): Authenticator {
  const introspector = createIntrospector(options);
  const verifier = options.jwt ? createTokenVerifier(options.jwt) : undefined;

  return {
    authenticate(headers, log) {
      return refusingFailures(log, () => {
        const bearer = verifier ? bearerOf(headers.authorization) : undefined;
        // A bearer token presented decides alone: a bad one is refused, never traded for the cookie.
        if (bearer !== undefined) return verifier!.verifyToken(bearer);
        return introspector.fromCookie(headers.cookie);
      });
    },
    authenticateLive(headers, log) {
      return refusingFailures(log, () => introspector.fromCookie(headers.cookie, { fresh: true }));
    },
  };
}

async function refusingFailures(log: AuthLog | undefined, resolve: () => Promise<RequestAuth | null>): Promise<RequestAuth | null> {
  try {
    return await resolve();
  } catch (error) {
    if (error instanceof InvalidTokenError) {
      log?.info({ reason: error.reason }, "bearer token refused");
      throw refusals.invalidToken(error.code);
    }
    if (error instanceof AuthUnavailableError) {
      // The reason names what failed, never the credential.
      log?.error({ reason: error.reason }, "auth service unavailable");
      throw refusals.unavailable();
    }
    log?.error({ reason: (error as Error | null)?.name ?? "unknown" }, "auth client failed");
    throw refusals.unavailable();
  }
}

function bearerOf(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const [scheme, token, ...rest] = header.trim().split(/\s+/);
  if (scheme?.toLowerCase() !== "bearer") return undefined;
  // "Bearer" with nothing (or more than one thing) after it is still a bearer credential: a bad one.
  return rest.length === 0 && token ? token : "";
}

/** 401 UNAUTHENTICATED (an AuthRefusal) without a session or token; otherwise who it is. */
export function checkSession(auth: RequestAuth | null): RequestAuth {
  if (!auth) throw refusals.unauthenticated();
  return auth;
}

/**
 * checkSession, then 403 NO_ACTIVE_CLINIC without an active clinic, and 403
 * PASSWORD_CHANGE_REQUIRED while an admin-set initial password has not been replaced.
 */
export function checkClinic(auth: RequestAuth | null): SessionClinic | NonNullable<TokenAuth["clinic"]> {
  const known = checkSession(auth);
  if (!known.clinic) throw refusals.noActiveClinic();
  if (known.via === "session" && known.user.mustChangePassword) throw refusals.passwordChangeRequired();
  return known.clinic;
}

/** checkClinic, then 403 FORBIDDEN unless the role grants every action asked, e.g. `{ patient: ["read"] }`. */
export function checkPermission(auth: RequestAuth | null, permission: ClinicalPermissionRequest): SessionClinic | NonNullable<TokenAuth["clinic"]> {
  const clinic = checkClinic(auth);
  if (!grants(clinic.permissions, permission)) throw refusals.forbidden();
  return clinic;
}
