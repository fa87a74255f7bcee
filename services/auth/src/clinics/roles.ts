import type { PermissionRequest } from "@temetro/auth-client/access-control";

/**
 * temetro's roles for Better Auth. The access control, the roles and the statements are defined once
 * in @temetro/auth-client (access-control.ts, built from its role table roles.ts): the web app's
 * Better Auth client is configured with the very same objects. The README shows the same table.
 */
export { accessControl, roles, statements, type PermissionRequest, type Statements } from "@temetro/auth-client/access-control";
export { assignableRoles, staffAccountRoles, type RoleName } from "@temetro/auth-client/roles";
/** The role Better Auth gives a clinic's creator; it moves only by an explicit transfer. */
export const OWNER_ROLE = "owner";

/** What managing the clinic's people takes (staff, members, the audit log): owners and admins. */
export const manageStaff: PermissionRequest = { member: ["create", "update", "delete"] };

/** Ownership moves only by the owner's own hand: only the owner role may delete the clinic. */
export const transferOwnership: PermissionRequest = { organization: ["delete"] };

/**
 * A patient's provider is a clinician: a member whose role may write prescriptions and patients
 * (owner, admin, doctor, member; not reception, pharmacy or lab).
 */
export const providerPermission: PermissionRequest = { prescription: ["write"], patient: ["write"] };
export type { Permissions } from "@temetro/auth-client/roles";

/** Re-exported from the one role table, so the guard, introspection and the client agree. */
export { grants, isRoleName, permissionsOf } from "@temetro/auth-client/roles";
