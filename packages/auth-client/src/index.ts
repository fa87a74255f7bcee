export {
  authenticate,
  requireClinic,
  requireLiveSession,
  requirePermission,
  requireSession,
  temetroAuth,
  temetroAuth as default,
  type TemetroAuth,
  type TemetroAuthOptions,
} from "./plugin.js";
export { AuthErrorCode, type AuthErrorBody } from "./errors.js";
export { ErrorCode, errorCodes, type ErrorBody, type FixedStatusCode } from "./error-codes.js";
export type { IntrospectionOptions } from "./introspection.js";
export type { JwtOptions } from "./jwt.js";
export { grants, permissionsOf, roleGrants, type ClinicalPermissionRequest, type Permissions, type RoleName } from "./roles.js";
export type { RequestAuth, SessionAuth, SessionClinic, TokenAuth } from "./types.js";
