import { createAccessControl, type AccessControl } from "better-auth/plugins/access";
import { defaultStatements } from "better-auth/plugins/organization/access";
import { clinicalStatements, roleGrants, type RoleName } from "./roles.js";

/**
 * temetro's roles as Better Auth's access control: the one definition the auth service configures
 * its organization plugin with (services/auth/src/clinics/roles.ts) and the web app gives Better
 * Auth's organizationClient (./web.ts), built from the role table (./roles.ts) over Better Auth's
 * own organization, member, invitation, team and ac statements.
 *
 * Browser-safe: only better-auth/plugins/access and its organization statements, which import no
 * Node module (packages/auth-client/test/web-entry.test.ts bundles it for the browser).
 */
export const statements = { ...defaultStatements, ...clinicalStatements } as const;

// Named by Better Auth's own type, so that the declarations the package ships keep it one (spelled out
// structurally, the organization plugin would no longer accept it).
export const accessControl: AccessControl<typeof statements> = createAccessControl(statements);

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
} satisfies Record<RoleName, unknown>;

export type Statements = typeof statements;
/** What a route or a screen asks of a role, e.g. `{ patient: ["read"] }`: resources and actions Better Auth knows. */
export type PermissionRequest = { readonly [K in keyof Statements]?: readonly Statements[K][number][] };
