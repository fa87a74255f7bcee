import { createAccessControl } from "better-auth/plugins/access";
import { defaultStatements } from "better-auth/plugins/organization/access";

/**
 * temetro's roles and what each may do, over Better Auth's own organization, member and
 * invitation statements plus temetro's resources. The README shows the same table.
 */
export const statements = {
  ...defaultStatements,
  patient: ["read", "write", "delete"],
  appointment: ["read", "write", "delete"],
  prescription: ["read", "write", "delete"],
  invoice: ["read", "write", "delete"],
  inventory: ["read", "write", "delete"],
  task: ["read", "write", "delete"],
  lab: ["read", "write"],
} as const;

export const accessControl = createAccessControl(statements);

const rwd = ["read", "write", "delete"] as const;
const rw = ["read", "write"] as const;
const r = ["read"] as const;

/** Clinical resources as owners and admins see them: everything. */
const allClinical = {
  patient: rwd,
  appointment: rwd,
  prescription: rwd,
  invoice: rwd,
  inventory: rwd,
  task: rwd,
  lab: rw,
};

/** Doctors (and plain members) do everything clinical but delete patients. */
const clinician = { ...allClinical, patient: rw };

const manageClinic = {
  member: ["create", "update", "delete"],
  invitation: ["create", "cancel"],
  team: ["create", "update", "delete"],
  ac: ["create", "read", "update", "delete"],
} as const;

export const roles = {
  owner: accessControl.newRole({ ...allClinical, ...manageClinic, organization: ["update", "delete"] }),
  admin: accessControl.newRole({ ...allClinical, ...manageClinic, organization: ["update"] }),
  doctor: accessControl.newRole({ ...clinician, ac: ["read"] }),
  member: accessControl.newRole({ ...clinician, ac: ["read"] }),
  reception: accessControl.newRole({
    patient: rw,
    appointment: rwd,
    invoice: rwd,
    task: rw,
    ac: ["read"],
  }),
  pharmacy: accessControl.newRole({
    patient: r,
    appointment: r,
    prescription: rw,
    inventory: rw,
    task: rw,
    ac: ["read"],
  }),
  lab: accessControl.newRole({
    patient: r,
    appointment: r,
    task: rw,
    lab: rw,
    ac: ["read"],
  }),
};

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
export type Permissions = Record<string, readonly string[]>;

export function isRoleName(name: string): name is RoleName {
  return Object.hasOwn(roles, name);
}

/**
 * The permissions granted by a member's role field. Better Auth stores several roles as a
 * comma-separated list; their grants add up. Unknown role names grant nothing.
 */
export function permissionsOf(roleField: string): Permissions {
  let permissions = permissionsByRoleField.get(roleField);
  if (!permissions) {
    permissions = computePermissions(roleField);
    // Role fields come from the database, not from clients: the set of distinct values is small.
    if (permissionsByRoleField.size < 1000) permissionsByRoleField.set(roleField, permissions);
  }
  return permissions;
}

const permissionsByRoleField = new Map<string, Permissions>();

function computePermissions(roleField: string): Permissions {
  const granted: Record<string, Set<string>> = {};
  for (const name of roleField.split(",").map((part) => part.trim())) {
    if (!isRoleName(name)) continue;
    for (const [resource, actions] of Object.entries(roles[name].statements as Permissions)) {
      const set = (granted[resource] ??= new Set());
      for (const action of actions) set.add(action);
    }
  }
  return Object.fromEntries(
    Object.entries(granted)
      .filter(([, actions]) => actions.size > 0)
      .map(([resource, actions]) => [resource, [...actions]]),
  );
}

/** Whether granted permissions cover every action a route asks for. */
export function grants(permissions: Permissions, request: PermissionRequest): boolean {
  return Object.entries(request).every(([resource, actions]) =>
    (actions ?? []).every((action) => permissions[resource]?.includes(action) ?? false),
  );
}
