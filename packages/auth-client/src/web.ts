/**
 * `@temetro/auth-client/web`: what temetro's web app gives Better Auth's own client so that it is
 * typed for temetro: the seven roles and their access control, the clinical resources for
 * `hasPermission`, and the extra fields of users and clinics.
 *
 * Browser-safe: no Node module, no Fastify, no JWT library; only better-auth's client and access
 * modules (a peer dependency) and plain data (packages/auth-client/test/web-entry.test.ts bundles
 * this entry for the browser and fails on any Node import).
 */
import { inferAdditionalFields, organizationClient, usernameClient } from "better-auth/client/plugins";
import { accessControl, roles, type Statements } from "./access-control.js";
import { clinicSchema, userFields } from "./additional-fields.js";

export { accessControl, accessControl as ac, roles, statements, type Statements } from "./access-control.js";
export { clinicSchema, userFields } from "./additional-fields.js";
export { assignableRoles, clinicalStatements, isRoleName, roleGrants, staffAccountRoles, type RoleName } from "./roles.js";
export { ErrorCode, errorCodes, type ErrorBody } from "./error-codes.js";

/**
 * What `hasPermission` and `checkRolePermission` ask, e.g. `{ patient: ["read"] }`: temetro's
 * resources and their actions, in the (mutable) arrays Better Auth's client takes.
 */
export type PermissionQuery = { [K in keyof Statements]?: Statements[K][number][] };

/**
 * Better Auth's client plugins configured for temetro, to spread into `createAuthClient`'s
 * `plugins` (with any plugins of the app's own):
 * `organizationClient({ ac, roles, schema: clinicSchema })`, `usernameClient()` and
 * `inferAdditionalFields({ user: userFields })`.
 */
export function temetroClientPlugins(): TemetroClientPlugins {
  return [organizationClient({ ac: accessControl, roles, schema: clinicSchema }), usernameClient(), inferAdditionalFields({ user: userFields })];
}

// Spelled with Better Auth's own function types, so that the declarations this package ships name
// them instead of copying their expansion (which a web app's compiler no longer matches with
// Better Auth's client). A tuple, not an array of a union: Better Auth infers each plugin from its place.
type TemetroOrganizationClient = ReturnType<
  typeof organizationClient<{ ac: typeof accessControl; roles: typeof roles; schema: typeof clinicSchema }>
>;
type TemetroUserFields = ReturnType<typeof inferAdditionalFields<unknown, { user: typeof userFields }>>;
export type TemetroClientPlugins = [TemetroOrganizationClient, ReturnType<typeof usernameClient<{}>>, TemetroUserFields];
