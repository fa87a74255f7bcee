import { defineRequestState } from "@better-auth/core/context";
import type { BetterAuthPlugin } from "better-auth";
import { createAuthMiddleware, getSessionFromCtx } from "better-auth/api";
import { AuditAction, invitationReference, recordAuditEvent } from "./audit.js";
import type { BetterAuthEntranceDeps } from "./better-auth-hooks.js";

/**
 * A new invitation to an address that already has a pending one cancels that one
 * (`cancelPendingInvitationsOnReInvite`), without any organization hook: the cancellation is
 * audited here, as `invitation.canceled` with `reason: "re-invited"`, like a cancellation by hand.
 * The pending invitations are noted before Better Auth runs; those it canceled are audited after,
 * whether or not the new invitation was then created.
 */

const INVITE = "/organization/invite-member";

/** The pending invitations to the address in the clinic, noted for this request only. */
const pendingBefore = defineRequestState<{ clinicId: string; invitationIds: string[] } | null>(() => null);

export function reInviteAudit({ pool, clientIpHeader }: BetterAuthEntranceDeps) {
  return {
    id: "temetro-re-invite-audit",
    hooks: {
      before: [
        {
          matcher: (context: { path?: string }) => context.path === INVITE,
          handler: createAuthMiddleware(async (ctx) => {
            const body = (ctx.body ?? {}) as { email?: unknown; organizationId?: unknown };
            const found = await getSessionFromCtx(ctx).catch(() => null);
            const clinicId = typeof body.organizationId === "string" && body.organizationId ? body.organizationId : found?.session.activeOrganizationId;
            if (!found || typeof clinicId !== "string" || typeof body.email !== "string") return;
            const { rows } = await pool.query<{ id: string }>(
              `SELECT "id" FROM "invitation" WHERE "organizationId" = $1 AND lower("email") = lower($2) AND "status" = 'pending'`,
              [clinicId, body.email],
            );
            if (rows.length > 0) await pendingBefore.set({ clinicId, invitationIds: rows.map((row) => row.id) });
          }),
        },
      ],
      after: [
        {
          matcher: (context: { path?: string }) => context.path === INVITE,
          handler: createAuthMiddleware(async (ctx) => {
            const noted = await pendingBefore.get();
            if (!noted) return;
            const found = await getSessionFromCtx(ctx).catch(() => null);
            const { rows } = await pool.query<{ id: string; email: string }>(
              `SELECT "id", "email" FROM "invitation" WHERE "id" = ANY($1) AND "status" = 'canceled'`,
              [noted.invitationIds],
            );
            for (const invitation of rows) {
              await recordAuditEvent(pool, {
                clinicId: noted.clinicId,
                action: AuditAction.INVITATION_CANCELED,
                actorUserId: found?.user.id ?? null,
                clientIp: ctx.headers?.get(clientIpHeader) ?? null,
                detail: { invitationRef: invitationReference(invitation.id), email: invitation.email, reason: "re-invited" },
              });
            }
          }),
        },
      ],
    },
  } satisfies BetterAuthPlugin;
}
