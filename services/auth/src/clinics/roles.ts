import { createAccessControl } from "better-auth/plugins/access";
import { defaultStatements } from "better-auth/plugins/organization/access";
import { clinicalStatements, roleGrants } from "@temetro/auth-client/roles";

/**
 * temetro's roles for Better Auth, built from the one role table (@temetro/auth-client's
 * roles.ts, which other services read for JWT-authenticated requests) over Better Auth's own
 * organization, member and invitation statements. The README shows the same table.
 */
export const statements = { ...defaultStatements, ...clinicalStatements } as const;

export const accessControl = createAccessControl(statements);

// newRole type-checks each role's grants against the statements: a resource or action the table
// names that Better Auth or temetro does not know fails the build.
export const roles = {
  owner: accessControl.newRole(roleGrants.owner),
  admin: accessControl.newRole(roleGrants.admin),
  doctor: accessControl.newRole(roleGrants.doctor),
  member: accessControl.newRole(roleGrants.member),
  reception: accessControl.newRole(roleGrants.reception),
  pharmacy: accessControl.newRole(roleGrants.pharmacy),
  lab: accessControl.newRole(roleGrants.lab),
} satisfies Record<keyof typeof roleGrants, unknown>;

export type RoleName = keyof typeof roles;

/** The role Better Auth gives a clinic's creator; it moves only by an explicit transfer. */
export const OWNER_ROLE = "owner";

/** Roles an owner or admin may give by invitation or a role change: every role but owner. */
export const assignableRoles = ["admin", "doctor", "member", "reception", "pharmacy", "lab"] as const;

/** Roles of a staff account a clinic creates itself (POST /api/staff). */
export const staffAccountRoles = ["admin", "doctor", "reception", "pharmacy", "lab"] as const;

/** What managing the clinic's people takes (staff, members, the audit log): owners and admins. */
export const manageStaff: PermissionRequest = { member: ["create", "update", "delete"] };

/** Ownership moves only by the owner's own hand: only the owner role may delete the clinic. */
export const transferOwnership: PermissionRequest = { organization: ["delete"] };

/**
 * A patient's provider is a clinician: a member whose role may write prescriptions and patients
 * (owner, admin, doctor, member; not reception, pharmacy or lab).
 */
export const providerPermission: PermissionRequest = { prescription: ["write"], patient: ["write"] };
export type Statements = typeof statements;
/** What a route asks of the caller's role, e.g. `{ patient: ["read"] }`. */
export type PermissionRequest = { readonly [K in keyof Statements]?: readonly Statements[K][number][] };
export type { Permissions } from "@temetro/auth-client/roles";

/** Re-exported from the one role table, so the guard, introspection and the client agree. */
export { grants, isRoleName, permissionsOf } from "@temetro/auth-client/roles";
