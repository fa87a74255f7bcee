import type { Pool } from "pg";
import { AuditAction, recordAuditEvent } from "./audit.js";

/**
 * What a security reviewer sees of a refused request: an `access.refused` row in the audit log of
 * the clinic concerned, or, when no existing clinic is concerned (no active clinic, an unknown
 * clinic id), a security log line. Only refusals that say something about intent are recorded:
 * an act (not a read) while an initial password stands, and any read of a clinic the caller does
 * not belong to.
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
  /** An existing clinic the request concerned, or null. */
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
  if (!clinicId) {
    log.warn({ securityEvent: "access-refused", reason, userId, route }, "request refused by a clinic boundary");
    return;
  }
  await recordAuditEvent(pool, { clinicId, action: AuditAction.ACCESS_REFUSED, actorUserId: userId, clientIp, detail: { reason, route } });
}
