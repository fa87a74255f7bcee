import type { Pool } from "pg";
import { AuditAction, recordAuditEvent } from "./audit.js";

/**
 * What a security reviewer sees of a refused request. An act (not a read) refused while the
 * actor's initial password stands: an `access.refused` row in the audit log of the actor's own
 * clinic. A read of a clinic the caller does not belong to, and any refusal with no clinic of the
 * actor's to record it in: a security log line, never a row in someone else's clinic (any
 * signed-in account could otherwise fill a clinic's audit log with rows of its own making).
 */

export const RefusalReason = {
  /** An admin-set initial password is still to be replaced (clinics/initial-password.ts). */
  PASSWORD_CHANGE_REQUIRED: "password-change-required",
  /** A read of a clinic the caller is not a member of (clinics/clinic-reads.ts). */
  NOT_A_MEMBER: "not-a-member",
} as const;
export type RefusalReason = (typeof RefusalReason)[keyof typeof RefusalReason];

/** Reads change nothing: of the initial-password refusals, only an act is worth a reviewer's attention. */
export const isAct = (method: string) => method !== "GET" && method !== "HEAD";

export interface Refusal {
  reason: RefusalReason;
  userId: string;
  /** An existing clinic the request concerned (the actor's own, unless NOT_A_MEMBER), or null. */
  clinicId: string | null;
  clientIp: string | null;
  /** Method and path as the service routes them, e.g. `POST /organization/invite-member`. */
  route: string;
}

export interface SecurityLog {
  warn(fields: object, message: string): void;
}

export async function recordRefusal(pool: Pool, log: SecurityLog, refusal: Refusal): Promise<void> {
  const { reason, userId, clinicId, clientIp, route } = refusal;
  if (!clinicId || reason === RefusalReason.NOT_A_MEMBER) {
    log.warn({ securityEvent: "access-refused", reason, userId, clinicId, route }, "request refused by a clinic boundary");
    return;
  }
  await recordAuditEvent(pool, { clinicId, action: AuditAction.ACCESS_REFUSED, actorUserId: userId, clientIp, detail: { reason, route } });
}
