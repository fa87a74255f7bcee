import type { BetterAuthPlugin } from "better-auth";
import { createAuthMiddleware, getSessionFromCtx } from "better-auth/api";
import type { Pool } from "pg";
import type { CountInvitation } from "./invitation-limits.js";
import { refuseUnverifiedSender, refusingForBetterAuth } from "./refusals.js";
import { grants, manageStaff, permissionsOf } from "./roles.js";
import { findStaffMember } from "./staff-store.js";

const INVITE = "/organization/invite-member";

/**
 * Who may make Better Auth's invite-member send an email (a new invitation or a `resend`): a
 * clinic's owner or admin whose own address is verified (403 EMAIL_NOT_VERIFIED), within the
 * hourly limit of the clinic and of the inviter (429 RATE_LIMITED). Judged before Better Auth runs
 * the route, since a resend sends without any organization hook. Anyone who may not invite at all
 * gets Better Auth's own answer and costs no budget. /api/staff applies the same two rules.
 */
export function invitationSenders({ pool, countInvitation }: { pool: Pool; countInvitation: CountInvitation }) {
  return {
    id: "temetro-invitation-senders",
    hooks: {
      before: [
        {
          matcher: (context: { path?: string }) => context.path === INVITE,
          handler: createAuthMiddleware(async (ctx) => {
            const session = await getSessionFromCtx(ctx).catch(() => null);
            if (!session) return;
            const body = (ctx.body ?? {}) as { organizationId?: unknown };
            const clinicId = typeof body.organizationId === "string" && body.organizationId ? body.organizationId : session.session.activeOrganizationId;
            if (typeof clinicId !== "string" || !clinicId) return;
            const inviter = await findStaffMember(pool, clinicId, session.user.id);
            if (!inviter || !grants(permissionsOf(inviter.role), manageStaff)) return;
            await refusingForBetterAuth(() => refuseUnverifiedSender(session.user));
            await countInvitation(clinicId, session.user.id);
          }),
        },
      ],
    },
  } satisfies BetterAuthPlugin;
}
