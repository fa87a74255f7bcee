/**
 * temetro's roles and what each grants: the one copy of the table. Better Auth's access control is
 * built from it (./access-control.ts), for the auth service and the web app alike; the service
 * reports these permissions in introspection answers; the client reads it for JWT-authenticated requests, whose token carries a
 * role but no permissions. The README's role table shows the same grants (a test checks both).
 * Plain data: no dependency on Better Auth.
 */

/** temetro's clinical resources and their actions. */
export const clinicalStatements = {
  patient: ["read", "write", "delete"],
  appointment: ["read", "write", "delete"],
  prescription: ["read", "write", "delete"],
  invoice: ["read", "write", "delete"],
  inventory: ["read", "write", "delete"],
  task: ["read", "write", "delete"],
  lab: ["read", "write"],
} as const;

/** Clinical resources as owners and admins see them: everything. */
const allClinical = clinicalStatements;

/** Doctors (and plain members) do everything clinical but delete patients. */
const clinician = { ...allClinical, patient: ["read", "write"] } as const;

/** Managing the clinic, over Better Auth's organization statements (member, invitation, team, ac). */
const manageClinic = {
  member: ["create", "update", "delete"],
  invitation: ["create", "cancel"],
  team: ["create", "update", "delete"],
  ac: ["create", "read", "update", "delete"],
} as const;

export const roleGrants = {
  owner: { ...allClinical, ...manageClinic, organization: ["update", "delete"] },
  admin: { ...allClinical, ...manageClinic, organization: ["update"] },
  doctor: { ...clinician, ac: ["read"] },
  member: { ...clinician, ac: ["read"] },
  reception: {
    patient: ["read", "write"],
    appointment: ["read", "write", "delete"],
    invoice: ["read", "write", "delete"],
    task: ["read", "write"],
    ac: ["read"],
  },
  pharmacy: {
    patient: ["read"],
    appointment: ["read"],
    prescription: ["read", "write"],
    inventory: ["read", "write"],
    task: ["read", "write"],
    ac: ["read"],
  },
  lab: {
    patient: ["read"],
    appointment: ["read"],
    task: ["read", "write"],
    lab: ["read", "write"],
    ac: ["read"],
  },
} as const;

export type RoleName = keyof typeof roleGrants;

/** Roles an owner or admin may give by invitation or a role change: every role but owner. */
export const assignableRoles = ["admin", "doctor", "member", "reception", "pharmacy", "lab"] as const satisfies readonly RoleName[];

/** Roles of a staff account a clinic creates itself (POST /api/staff). */
export const staffAccountRoles = ["admin", "doctor", "reception", "pharmacy", "lab"] as const satisfies readonly RoleName[];
/** Granted permissions: resource -> actions. */
export type Permissions = Record<string, readonly string[]>;
export type ClinicalStatements = typeof clinicalStatements;
/** What a route of another service asks of the caller's role, e.g. `{ patient: ["read"] }`. */
export type ClinicalPermissionRequest = {
  readonly [K in keyof ClinicalStatements]?: readonly ClinicalStatements[K][number][];
};

export function isRoleName(name: string): name is RoleName {
  return Object.hasOwn(roleGrants, name);
}

/**
 * The permissions granted by a member's role field. Better Auth stores several roles as a
 * comma-separated list; their grants add up. Unknown role names grant nothing.
 */
export function permissionsOf(roleField: string): Permissions {
  let permissions = permissionsByRoleField.get(roleField);
  if (!permissions) {
    permissions = computePermissions(roleField);
    // Bounded: role fields normally come from the database, and a JWT's role only after its signature checked.
    if (permissionsByRoleField.size < 1000) permissionsByRoleField.set(roleField, permissions);
  }
  return permissions;
}

const permissionsByRoleField = new Map<string, Permissions>();

function computePermissions(roleField: string): Permissions {
  const granted: Record<string, Set<string>> = {};
  for (const name of roleField.split(",").map((part) => part.trim())) {
    if (!isRoleName(name)) continue;
    for (const [resource, actions] of Object.entries(roleGrants[name] as Permissions)) {
      const set = (granted[resource] ??= new Set());
      for (const action of actions) set.add(action);
    }
  }
  return Object.freeze(
    Object.fromEntries(
      Object.entries(granted)
        .filter(([, actions]) => actions.size > 0)
        .map(([resource, actions]) => [resource, Object.freeze([...actions])]),
    ),
  );
}

/** Whether granted permissions cover every action a route asks for. */
export function grants(
  permissions: Permissions,
  request: { readonly [resource: string]: readonly string[] | undefined },
): boolean {
  return Object.entries(request).every(([resource, actions]) =>
    (actions ?? []).every((action) => Object.hasOwn(permissions, resource) && (permissions[resource]?.includes(action) ?? false)),
  );
}
