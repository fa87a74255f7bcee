import type { Pool, PoolClient } from "pg";
import type { Invalidation } from "../sessions/invalidation.js";
import { withTransaction } from "../db/transaction.js";
import { ErrorCode, HttpError } from "../errors.js";
import { AuditAction, recordAuditEvent } from "./audit.js";
import { memberNotFound, refuseOwnerChange, refuseUnassignableRole } from "./refusals.js";
import { OWNER_ROLE } from "./roles.js";
import {
  deleteClinicSessions,
  deleteMembership,
  clinicControls,
  endRemovedMemberAccess,
  findStaffMember,
  updateMemberRole,
  type StaffMember,
} from "./staff-store.js";

/**
 * Every change to a clinic's members, whichever entrance it came through: Better Auth's
 * organization routes (clinics/better-auth-hooks.ts: Better Auth writes, these checks run before
 * and these effects after) or the /api routes (the operations below: one transaction, then the
 * announcement). A change's checks, audit row and session effects are written here once; the
 * announcement tells this replica at once, PostgreSQL's triggers tell the others (migration 0005).
 * Staff accounts' creation and passwords, which hash, are in clinics/staff-accounts.ts.
 */

export type Db = Pool | PoolClient;
export type Announce = (message: Invalidation) => Promise<void>;

/** Who makes a change, and from which address: what its audit row records. */
export interface Actor {
  userId: string | null;
  clientIp: string | null;
}

export interface MembershipDeps {
  pool: Pool;
  announce: Announce;
}

/** Runs a change's effects, then announces it even when they failed: the change itself was made. */
export async function announcingAfter(announce: Announce, userId: string, effects: () => Promise<void>): Promise<void> {
  try {
    await effects();
  } finally {
    await announce(`user:${userId}`);
  }
}

/** The role a former owner keeps: they still run the clinic, without owning it. */
export const FORMER_OWNER_ROLE = "admin";

export function checkRoleChange(target: { role: string } | null, newRole: string): asserts target {
  if (!target) throw memberNotFound();
  refuseOwnerChange(target);
  refuseUnassignableRole(newRole);
}

export function checkRemoval(target: { role: string } | null): asserts target {
  if (!target) throw memberNotFound();
  refuseOwnerChange(target);
}

export async function roleChanged(db: Db, actor: Actor, clinicId: string, change: { userId: string; from: string; to: string }) {
  await recordAuditEvent(db, {
    clinicId,
    action: AuditAction.ROLE_CHANGED,
    actorUserId: actor.userId,
    clientIp: actor.clientIp,
    targetUserId: change.userId,
    detail: { from: change.from, to: change.to },
  });
}

/**
 * What removal does beyond the membership row: an account the clinic controls (created, unclaimed)
 * is disabled and all its sessions end; a person with an account of their own loses the sessions
 * acting in this clinic.
 */
export async function memberRemoved(
  db: Db,
  actor: Actor,
  clinicId: string,
  member: { userId: string; role: string; createdByClinic: boolean; accountClaimed: boolean },
) {
  await endRemovedMemberAccess(db, member, clinicId);
  await recordAuditEvent(db, {
    clinicId,
    action: AuditAction.MEMBER_REMOVED,
    actorUserId: actor.userId,
    clientIp: actor.clientIp,
    targetUserId: member.userId,
    // A created account that was not disabled because its owner had claimed it says so.
    detail: { role: member.role, disabled: clinicControls(member), ...(member.createdByClinic && { accountClaimed: member.accountClaimed }) },
  });
}

/** A member left by their own hand: their other sessions acting in the clinic end, as on removal. */
export async function memberLeft(db: Db, clientIp: string | null, clinicId: string, member: { userId: string; role: string }) {
  await deleteClinicSessions(db, member.userId, clinicId);
  await recordAuditEvent(db, {
    clinicId,
    action: AuditAction.MEMBER_LEFT,
    actorUserId: member.userId,
    clientIp,
    targetUserId: member.userId,
    detail: { role: member.role },
  });
}

/** PATCH /api/staff/:userId. */
export async function changeRole(deps: MembershipDeps, actor: Actor, clinicId: string, userId: string, role: string) {
  const updated = await withTransaction(deps.pool, async (client): Promise<StaffMember> => {
    const member = await findStaffMember(client, clinicId, userId, { lock: true });
    checkRoleChange(member, role);
    if (member.role === role) return member;
    await updateMemberRole(client, clinicId, member.userId, role);
    await roleChanged(client, actor, clinicId, { userId: member.userId, from: member.role, to: role });
    return { ...member, role };
  });
  // Committed: no replica may keep answering with the old role.
  await deps.announce(`user:${updated.userId}`);
  return updated;
}

/** DELETE /api/staff/:userId. */
export async function removeMember(deps: MembershipDeps, actor: Actor, clinicId: string, userId: string) {
  await withTransaction(deps.pool, async (client) => {
    const member = await findStaffMember(client, clinicId, userId, { lock: true });
    checkRemoval(member);
    await deleteMembership(client, clinicId, member.userId);
    await memberRemoved(client, actor, clinicId, member);
  });
  await deps.announce(`user:${userId}`);
}

/**
 * POST /api/clinic/transfer-ownership: the only way ownership moves. The owner hands it to another
 * member and becomes an admin, in one transaction, so the clinic has an owner at every moment.
 */
export async function transferOwnership(deps: MembershipDeps, actor: Actor & { userId: string }, clinicId: string, targetId: string) {
  if (targetId === actor.userId) throw new HttpError(400, ErrorCode.BAD_REQUEST, "You already own this clinic");
  await withTransaction(deps.pool, async (client) => {
    const current = await findStaffMember(client, clinicId, actor.userId, { lock: true });
    // The permission is the owner's alone, but the role may have changed since the guard read it.
    if (current?.role !== OWNER_ROLE) throw new HttpError(403, ErrorCode.FORBIDDEN, "Only the owner can transfer ownership");
    const target = await findStaffMember(client, clinicId, targetId, { lock: true });
    if (!target) throw memberNotFound();
    if (target.disabled) throw new HttpError(409, ErrorCode.CONFLICT, "A disabled account cannot own the clinic");
    await updateMemberRole(client, clinicId, target.userId, OWNER_ROLE);
    await updateMemberRole(client, clinicId, actor.userId, FORMER_OWNER_ROLE);
    await recordAuditEvent(client, {
      clinicId,
      action: AuditAction.OWNERSHIP_TRANSFERRED,
      actorUserId: actor.userId,
      clientIp: actor.clientIp,
      targetUserId: target.userId,
      detail: { previousOwnerRole: FORMER_OWNER_ROLE, targetPreviousRole: target.role },
    });
  });
  await deps.announce(`user:${targetId}`);
  await deps.announce(`user:${actor.userId}`);
  return { ownerUserId: targetId, previousOwnerRole: FORMER_OWNER_ROLE };
}
