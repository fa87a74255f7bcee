import type { BetterAuthPlugin } from "better-auth";
import { createAuthMiddleware, getSessionFromCtx } from "better-auth/api";
import { successfulResult } from "./better-auth-plugin.js";
import type { BetterAuthEntranceDeps } from "./better-auth-hooks.js";
import { findMembership } from "./membership-store.js";
import { grants, manageStaff, permissionsOf } from "./roles.js";

/**
 * Members' email addresses are for the roles that manage staff (owner, admin), as on
 * GET /api/staff; other roles see names and roles only (as on GET /api/staff/providers). Better
 * Auth's routes that list other members with their user (list-members, get-full-organization)
 * answer every member the same: their answer is cut here for the other roles. (get-active-member
 * shows only the caller; invitations, with their addresses, only to roles that may invite.)
 */

const LIST_MEMBERS = "/organization/list-members";
const FULL_CLINIC = "/organization/get-full-organization";

export interface ListedMember {
  organizationId?: unknown;
  user?: { id?: unknown; name?: unknown; image?: unknown };
}

const withoutEmail = (member: ListedMember) =>
  member.user ? { ...member, user: { id: member.user.id, name: member.user.name, image: member.user.image } } : member;

/** The clinic and members of an answer, and how to rebuild it with other members. */
function membersOf(path: string, answer: Record<string, unknown>) {
  const members = Array.isArray(answer.members) ? (answer.members as ListedMember[]) : [];
  const clinicId = path === FULL_CLINIC ? answer.id : members[0]?.organizationId;
  return { clinicId: typeof clinicId === "string" ? clinicId : undefined, members };
}

export function memberEmails({ pool }: Pick<BetterAuthEntranceDeps, "pool">) {
  return {
    id: "temetro-member-emails",
    hooks: {
      after: [
        {
          matcher: (context: { path?: string }) => context.path === LIST_MEMBERS || context.path === FULL_CLINIC,
          handler: createAuthMiddleware(async (ctx) => {
            const answer = successfulResult(ctx.context.returned);
            if (!answer) return;
            const { clinicId, members } = membersOf(ctx.path, answer);
            if (!clinicId || members.length === 0) return;
            const found = await getSessionFromCtx(ctx).catch(() => null);
            const membership = found ? await findMembership(pool, found.user.id, clinicId) : null;
            if (membership && grants(permissionsOf(membership.role), manageStaff)) return;
            return ctx.json({ ...answer, members: members.map(withoutEmail) });
          }),
        },
      ],
    },
  } satisfies BetterAuthPlugin;
}
