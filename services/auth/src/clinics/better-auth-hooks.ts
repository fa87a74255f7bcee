import { tryGetCurrentAuthEndpointContext } from "@better-auth/core/context";
import { ErrorCode, HttpError } from "../errors.js";
import type { Pool } from "pg";
import { AuditAction, invitationReference, recordAuditEvent, type AuditEventInput } from "./audit.js";
import { announcingAfter, checkRemoval, checkRoleChange, memberRemoved, roleChanged, type Announce } from "./membership.js";
import { refuseUnassignableRole, refusingForBetterAuth } from "./refusals.js";
import { isAccountClaimed } from "./staff-store.js";

/**
 * Better Auth's organization routes (invite-member, update-member-role, remove-member,
 * accept-invitation...) as an entrance to clinics/membership.ts: Better Auth writes, and its
 * organization hooks run the same checks before and the same audit, session effects and
 * announcement after as the /api routes do. The announcement comes after the effects, and even
 * when they fail, so no replica serves a cached answer about a change that was made.
 * Checks that must run before Better Auth's own (which answer differently) are in
 * clinics/better-auth-plugin.ts.
 */

export interface BetterAuthEntranceDeps {
  pool: Pool;
  announce: Announce;
  /** Header through which the Fastify adapter hands Better Auth the client address it trusts. */
  clientIpHeader: string;
}

/** Who is acting and from where, taken from the Better Auth request being handled. */
function requestFacts(clientIpHeader: string): { userId: string | null; clientIp: string | null } {
  const context = tryGetCurrentAuthEndpointContext() as
    | { headers?: Headers; context?: { session?: { user?: { id?: string } } | null } }
    | undefined;
  return {
    userId: context?.context?.session?.user?.id ?? null,
    clientIp: context?.headers?.get(clientIpHeader) ?? null,
  };
}

type Member = { userId: string; organizationId: string; role: string };

export function membershipHooks({ pool, announce, clientIpHeader }: BetterAuthEntranceDeps) {
  const actor = () => requestFacts(clientIpHeader);
  const audit = (event: Omit<AuditEventInput, "clientIp">) => recordAuditEvent(pool, { ...event, clientIp: actor().clientIp });

  return {
    beforeCreateInvitation: async ({ invitation }: { invitation: { role: string } }) =>
      refusingForBetterAuth(() => refuseUnassignableRole(invitation.role)),
    afterCreateInvitation: async ({ invitation, inviter }: { invitation: { id: string; email: string; role: string; organizationId: string }; inviter: { id: string } }) =>
      audit({
        clinicId: invitation.organizationId,
        action: AuditAction.INVITATION_SENT,
        actorUserId: inviter.id,
        detail: { invitationRef: invitationReference(invitation.id), email: invitation.email, role: invitation.role },
      }),
    afterCancelInvitation: async ({ invitation, cancelledBy }: { invitation: { id: string; email: string; organizationId: string }; cancelledBy: { id: string } }) =>
      audit({
        clinicId: invitation.organizationId,
        action: AuditAction.INVITATION_CANCELED,
        actorUserId: cancelledBy.id,
        detail: { invitationRef: invitationReference(invitation.id), email: invitation.email },
      }),
    afterAcceptInvitation: async ({ invitation, member }: { invitation: { id: string; organizationId: string; inviterId: string }; member: Member }) =>
      announcingAfter(announce, member.userId, () =>
        audit({
          clinicId: invitation.organizationId,
          action: AuditAction.INVITATION_ACCEPTED,
          actorUserId: member.userId,
          targetUserId: member.userId,
          detail: { invitationRef: invitationReference(invitation.id), role: member.role, invitedBy: invitation.inviterId },
        }),
      ),
    afterAddMember: async ({ member }: { member: { userId: string } }) => announce(`user:${member.userId}`),
    beforeUpdateMemberRole: async ({ member, newRole }: { member: { role: string }; newRole: string }) =>
      refusingForBetterAuth(() => checkRoleChange(member, newRole)),
    afterUpdateMemberRole: async ({ member, previousRole }: { member: Member; previousRole: string }) =>
      announcingAfter(announce, member.userId, () =>
        roleChanged(pool, actor(), member.organizationId, { userId: member.userId, from: previousRole, to: member.role }),
      ),
    beforeRemoveMember: async ({ member }: { member: { role: string } }) => refusingForBetterAuth(() => checkRemoval(member)),
    afterRemoveMember: async ({ member, user }: { member: Member; user: { id: string } & Record<string, unknown> }) =>
      announcingAfter(announce, member.userId, async () =>
        memberRemoved(pool, actor(), member.organizationId, {
          userId: member.userId,
          role: member.role,
          createdByClinic: user["createdByClinicId"] === member.organizationId,
          accountClaimed: await isAccountClaimed(pool, member.userId, member.organizationId),
        }),
      ),
    // Better Auth drops the fields it does not know and would run an UPDATE that sets nothing (a SQL error).
    beforeUpdateOrganization: async ({ organization: changes }: { organization: Record<string, unknown> }) =>
      refusingForBetterAuth(() => {
        if (Object.keys(changes).length === 0) throw new HttpError(ErrorCode.VALIDATION_ERROR, "Invalid body: data names no field of the clinic to change");
      }),
    afterUpdateOrganization: async ({ organization: clinic }: { organization: { id: string } | null }) => {
      if (clinic) await announce(`clinic:${clinic.id}`);
    },
    afterDeleteOrganization: async ({ organization: clinic }: { organization: { id: string } }) => announce(`clinic:${clinic.id}`),
  };
}
