import type { Pool, PoolClient } from "pg";

/**
 * The clinic's audit log: who did what to whom, where from and when. Written in the same
 * transaction as the change it records whenever the service makes the change itself.
 */

export const AuditAction = {
  STAFF_CREATED: "staff.created",
  ROLE_CHANGED: "member.role-changed",
  MEMBER_REMOVED: "member.removed",
  MEMBER_LEFT: "member.left",
  PASSWORD_SET_BY_ADMIN: "staff.password-set",
  // A clinic tried a power over an account it does not control (clinics/refusals.ts, `refuseUnlessClinicControls`).
  PASSWORD_SET_REFUSED: "staff.password-set-refused",
  LOCKOUT_LIFT_REFUSED: "staff.lockout-lift-refused",
  INVITATION_SENT: "invitation.sent",
  INVITATION_ACCEPTED: "invitation.accepted",
  INVITATION_CANCELED: "invitation.canceled",
  OWNERSHIP_TRANSFERRED: "clinic.ownership-transferred",
  /** A request refused by a clinic boundary (clinics/refusal-audit.ts says which). */
  ACCESS_REFUSED: "access.refused",
} as const;
export type AuditAction = (typeof AuditAction)[keyof typeof AuditAction];

/**
 * How an audit row names an invitation: the start of its id, enough to tell a clinic's invitations
 * apart, never the whole id (audit rows outlive the invitation and travel further than it should).
 */
export const invitationReference = (invitationId: string) => `${invitationId.slice(0, 8)}…`;

export interface AuditEventInput {
  clinicId: string;
  action: AuditAction;
  actorUserId: string | null;
  targetUserId?: string | null;
  /** What else a reviewer needs (a role, an invited address); never a secret. */
  detail?: Record<string, unknown>;
  clientIp: string | null;
}

export interface AuditEvent {
  id: string;
  action: string;
  actorUserId: string | null;
  targetUserId: string | null;
  detail: Record<string, unknown>;
  clientIp: string | null;
  createdAt: string;
}

export async function recordAuditEvent(db: Pool | PoolClient, event: AuditEventInput): Promise<void> {
  await db.query(
    `INSERT INTO audit_event (clinic_id, action, actor_user_id, target_user_id, detail, client_ip)
     VALUES ($1, $2, $3, $4, $5, $6)`,
    [event.clinicId, event.action, event.actorUserId, event.targetUserId ?? null, event.detail ?? {}, event.clientIp],
  );
}

/**
 * Runs a change and, when a rule refuses it with one of `codes`, records the refusal: on the pool,
 * after the change's transaction rolled back (a row written inside it would vanish with it).
 */
export async function auditingRefusals<T>(
  db: Pool,
  codes: readonly string[],
  event: Omit<AuditEventInput, "detail">,
  change: () => Promise<T>,
): Promise<T> {
  try {
    return await change();
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    if (typeof code === "string" && codes.includes(code)) await recordAuditEvent(db, { ...event, detail: { code } });
    throw error;
  }
}

/** One page of a clinic's events, newest first; `before` is the id of the last event already seen. */
export async function listAuditEvents(
  db: Pool,
  clinicId: string,
  { limit, before }: { limit: number; before?: string },
): Promise<AuditEvent[]> {
  const { rows } = await db.query<{
    id: string;
    action: string;
    actor_user_id: string | null;
    target_user_id: string | null;
    detail: Record<string, unknown>;
    client_ip: string | null;
    created_at: Date;
  }>(
    `SELECT id, action, actor_user_id, target_user_id, detail, client_ip, created_at
       FROM audit_event
      WHERE clinic_id = $1 AND ($2::bigint IS NULL OR id < $2::bigint)
      ORDER BY id DESC
      LIMIT $3`,
    [clinicId, before ?? null, limit],
  );
  return rows.map((row) => ({
    id: row.id,
    action: row.action,
    actorUserId: row.actor_user_id,
    targetUserId: row.target_user_id,
    detail: row.detail,
    clientIp: row.client_ip,
    createdAt: row.created_at.toISOString(),
  }));
}
