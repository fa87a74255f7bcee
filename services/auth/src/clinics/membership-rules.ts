import { tryGetCurrentAuthEndpointContext } from "@better-auth/core/context";
import { APIError } from "better-auth/api";
import type { Pool } from "pg";
import { assignableRoles, OWNER_ROLE } from "./roles.js";
import { AuditAction, recordAuditEvent, type AuditEventInput } from "./audit.js";
import { endRemovedMemberAccess } from "./staff-store.js";

/**
 * temetro's rules for Better Auth's organization routes (invite-member, update-member-role,
 * remove-member, accept-invitation...), as organization hooks:
 * - a role given by invitation or role change is exactly one of the assignable roles: never owner,
 *   which moves only by the explicit transfer (POST /api/clinic/transfer-ownership);
 * - an owner's role does not change here either, so a clinic always keeps its owner;
 * - a removed member's sessions stop acting in the clinic at once (and an account the clinic
 *   created is disabled);
 * - invitations sent and accepted, role changes and removals go to the audit log.
 */

export const MembershipErrorCode = {
  ROLE_NOT_ASSIGNABLE: "ROLE_NOT_ASSIGNABLE",
  OWNER_ROLE_PROTECTED: "OWNER_ROLE_PROTECTED",
} as const;

export function refuseUnassignableRole(role: string): void {
  if (role === OWNER_ROLE || role.split(",").map((part) => part.trim()).includes(OWNER_ROLE)) {
    throw new APIError("BAD_REQUEST", {
      code: MembershipErrorCode.ROLE_NOT_ASSIGNABLE,
      message: "Ownership moves only by transfer (POST /api/clinic/transfer-ownership)",
    });
  }
  if (!(assignableRoles as readonly string[]).includes(role)) {
    throw new APIError("BAD_REQUEST", {
      code: MembershipErrorCode.ROLE_NOT_ASSIGNABLE,
      message: `Role must be one of: ${assignableRoles.join(", ")}`,
    });
  }
}

/** Who is acting and from where, taken from the Better Auth request being handled. */
function requestFacts(clientIpHeader: string): { actorUserId: string | null; clientIp: string | null } {
  const context = tryGetCurrentAuthEndpointContext() as
    | { headers?: Headers; context?: { session?: { user?: { id?: string } } | null } }
    | undefined;
  return {
    actorUserId: context?.context?.session?.user?.id ?? null,
    clientIp: context?.headers?.get(clientIpHeader) ?? null,
  };
}

export function membershipHooks({ pool, clientIpHeader }: { pool: Pool; clientIpHeader: string }) {
  const audit = (event: Omit<AuditEventInput, "actorUserId" | "clientIp"> & { actorUserId?: string | null }) => {
    const facts = requestFacts(clientIpHeader);
    return recordAuditEvent(pool, { ...facts, ...event, actorUserId: event.actorUserId ?? facts.actorUserId });
  };

  return {
    beforeCreateInvitation: async ({ invitation }: { invitation: { role: string } }) => {
      refuseUnassignableRole(invitation.role);
    },
    afterCreateInvitation: async ({ invitation, inviter }: { invitation: { id: string; email: string; role: string; organizationId: string }; inviter: { id: string } }) => {
      await audit({
        clinicId: invitation.organizationId,
        action: AuditAction.INVITATION_SENT,
        actorUserId: inviter.id,
        detail: { invitationId: invitation.id, email: invitation.email, role: invitation.role },
      });
    },
    afterAcceptInvitation: async ({ invitation, member }: { invitation: { id: string; organizationId: string; inviterId: string }; member: { userId: string; role: string } }) => {
      await audit({
        clinicId: invitation.organizationId,
        action: AuditAction.INVITATION_ACCEPTED,
        actorUserId: member.userId,
        targetUserId: member.userId,
        detail: { invitationId: invitation.id, role: member.role, invitedBy: invitation.inviterId },
      });
    },
    afterCancelInvitation: async ({ invitation, cancelledBy }: { invitation: { id: string; email: string; organizationId: string }; cancelledBy: { id: string } }) => {
      await audit({
        clinicId: invitation.organizationId,
        action: AuditAction.INVITATION_CANCELED,
        actorUserId: cancelledBy.id,
        detail: { invitationId: invitation.id, email: invitation.email },
      });
    },
    beforeUpdateMemberRole: async ({ member, newRole }: { member: { role: string }; newRole: string }) => {
      if (member.role.split(",").map((part) => part.trim()).includes(OWNER_ROLE)) {
        throw new APIError("BAD_REQUEST", {
          code: MembershipErrorCode.OWNER_ROLE_PROTECTED,
          message: "The owner's role changes only by transferring ownership (POST /api/clinic/transfer-ownership)",
        });
      }
      refuseUnassignableRole(newRole);
    },
    afterUpdateMemberRole: async ({ member, previousRole }: { member: { userId: string; organizationId: string; role: string }; previousRole: string }) => {
      await audit({
        clinicId: member.organizationId,
        action: AuditAction.ROLE_CHANGED,
        targetUserId: member.userId,
        detail: { from: previousRole, to: member.role },
      });
    },
    afterRemoveMember: async ({ member, user }: { member: { userId: string; organizationId: string; role: string }; user: { id: string } & Record<string, unknown> }) => {
      await endRemovedMemberAccess(
        pool,
        { userId: member.userId, createdByClinic: user["createdByClinicId"] === member.organizationId },
        member.organizationId,
      );
      await audit({
        clinicId: member.organizationId,
        action: AuditAction.MEMBER_REMOVED,
        targetUserId: member.userId,
        detail: { role: member.role },
      });
    },
  };
}
