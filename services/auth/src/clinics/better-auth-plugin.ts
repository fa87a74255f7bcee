import type { BetterAuthPlugin } from "better-auth";
import { createAuthMiddleware, getSessionFromCtx, isAPIError } from "better-auth/api";
import type { BetterAuthEntranceDeps } from "./better-auth-hooks.js";
import { announcingAfter, checkRemoval, checkRoleChange, memberLeft } from "./membership.js";
import { refuseUnassignableRole, refusingForBetterAuth, roleForbids } from "./refusals.js";
import { grants, manageStaff, permissionsOf } from "./roles.js";
import { findStaffMember, findStaffMemberByReference } from "./staff-store.js";

/**
 * The part of Better Auth's organization routes that its organization hooks cannot reach:
 * - refusals checked before Better Auth's own checks, which would answer the same mistake with
 *   another status and code than /api does (an admin touching the owner, an unknown role, a
 *   member of another clinic): clinics/refusals.ts answers it, on both entrances;
 * - `organization/leave`, which has no organization hook: it is audited, ends the leaver's other
 *   sessions acting in the clinic (as removal does) and is announced.
 */

const INVITE = "/organization/invite-member";
const UPDATE_ROLE = "/organization/update-member-role";
const REMOVE = "/organization/remove-member";
const LEAVE = "/organization/leave";

type Body = Record<string, unknown>;

/** Better Auth takes a role as a string or a list; it stores the list comma-separated. */
function roleOf(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (Array.isArray(value) && value.every((part) => typeof part === "string")) return value.join(",");
  return undefined;
}

/** What the route answered, when it succeeded (an after-hook also runs after a refusal). */
export function successfulResult(returned: unknown): Record<string, unknown> | undefined {
  if (!returned || typeof returned !== "object" || isAPIError(returned) || returned instanceof Error || returned instanceof Response) {
    return undefined;
  }
  return returned as Record<string, unknown>;
}

export function clinicMembership({ pool, announce, clientIpHeader }: BetterAuthEntranceDeps) {
  /**
   * Checked only for a signed-in member of the clinic whose role may manage its people, in the
   * /api guard's order: anyone else learns nothing about the target and gets Better Auth's answer.
   */
  async function refuseChange(ctx: Parameters<Parameters<typeof createAuthMiddleware>[0]>[0]): Promise<void> {
    const body = (ctx.body ?? {}) as Body;
    if (ctx.path === INVITE) {
      // Checked before Better Auth's own role check, which answers an unknown role without a code.
      return refuseUnassignableRole(roleOf(body.role) ?? String(body.role ?? ""));
    }
    const session = await getSessionFromCtx(ctx).catch(() => null);
    const activeClinicId = session?.session.activeOrganizationId as string | null | undefined;
    const clinicId = typeof body.organizationId === "string" && body.organizationId ? body.organizationId : activeClinicId;
    if (!session || !clinicId) return;
    const actor = await findStaffMember(pool, clinicId, session.user.id);
    if (!actor) return;
    if (!grants(permissionsOf(actor.role), manageStaff)) throw roleForbids();

    if (ctx.path === UPDATE_ROLE) {
      const role = roleOf(body.role);
      if (typeof body.memberId !== "string" || role === undefined) return;
      checkRoleChange(await findStaffMemberByReference(pool, clinicId, { memberId: body.memberId }), role);
      return;
    }
    const reference = body.memberIdOrEmail;
    if (typeof reference !== "string") return;
    const target = await findStaffMemberByReference(pool, clinicId, reference.includes("@") ? { email: reference } : { memberId: reference });
    checkRemoval(target);
  }

  return {
    id: "temetro-clinic-membership",
    hooks: {
      before: [
        {
          matcher: (context: { path?: string }) => context.path === INVITE || context.path === UPDATE_ROLE || context.path === REMOVE,
          handler: createAuthMiddleware(async (ctx) => refusingForBetterAuth(() => refuseChange(ctx))),
        },
      ],
      after: [
        {
          matcher: (context: { path?: string }) => context.path === LEAVE,
          handler: createAuthMiddleware(async (ctx) => {
            const left = successfulResult(ctx.context.returned);
            if (typeof left?.userId !== "string" || typeof left.organizationId !== "string") return;
            const leaver = { userId: left.userId, role: String(left.role ?? "") };
            const clinicId = left.organizationId;
            await announcingAfter(announce, leaver.userId, () =>
              memberLeft(pool, ctx.headers?.get(clientIpHeader) ?? null, clinicId, leaver),
            );
          }),
        },
      ],
    },
  } satisfies BetterAuthPlugin;
}
