/**
 * The client without a framework: for a service on node:http, Express or anything else. No import
 * of Fastify here or below (the package's Fastify plugin is the "." entry, built on this one).
 */
export {
  checkClinic,
  checkPermission,
  checkSession,
  createAuthenticator,
  type AuthClientOptions,
  type AuthLog,
  type Authenticator,
  type CredentialHeaders,
} from "./authenticator.js";
export { AuthErrorCode, AuthRefusal, AuthUnavailableError, refusals, responseOf, type AuthErrorBody, type RefusalResponse } from "./errors.js";
export { ErrorCode, errorCodes, type ErrorBody } from "./error-codes.js";
export { createIntrospector, type IntrospectionOptions, type Introspector } from "./introspection.js";
export { createTokenVerifier, InvalidTokenError, TokenErrorCode, type JwtOptions, type TokenVerifier } from "./jwt.js";
export {
  grants,
  isRoleName,
  permissionsOf,
  roleGrants,
  type ClinicalPermissionRequest,
  type Permissions,
  type RoleName,
} from "./roles.js";
export type { RequestAuth, SessionAuth, SessionClinic, TokenAuth } from "./types.js";
