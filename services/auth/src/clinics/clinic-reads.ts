import type { BetterAuthPlugin } from "better-auth";
import { createAuthMiddleware, getSessionFromCtx } from "better-auth/api";
import { betterAuthRefusal, ErrorCode } from "../errors.js";
import type { BetterAuthEntranceDeps } from "./better-auth-hooks.js";
import { findNamedClinic } from "./membership-store.js";
import { recordRefusal, RefusalReason, type SecurityLog } from "./refusal-audit.js";

/**
 * A read of a clinic changes nothing. Better Auth's get-organization and get-full-organization
 * (and set-active) clear the caller's active clinic when it names one they do not belong to, so a
 * cross-site link could sign a user out of their clinic. Here such a request is refused first, with
 * 403 NOT_A_CLINIC_MEMBER, before Better Auth touches the session; the same for an unknown clinic,
 * so the answer does not tell which ids and slugs exist. The refusal is a security log line
 * (clinics/refusal-audit.ts).
 */

/** Routes that name a clinic in the query (`organizationId`, `organizationSlug`) or use the active one. */
const readPaths = new Set([
  "/organization/get-organization",
  "/organization/get-full-organization",
  "/organization/list-members",
  "/organization/list-invitations",
  "/organization/get-active-member-role",
]);
const SET_ACTIVE = "/organization/set-active";

type Named = { id: string } | { slug: string };

const text = (value: unknown) => (typeof value === "string" && value ? value : undefined);

/** The clinic a request names, as Better Auth reads it (a slug before an id in queries). */
function namedClinic(path: string, query: Record<string, unknown>, body: Record<string, unknown>, activeId: string | undefined): Named | null {
  if (path === SET_ACTIVE) {
    // `organizationId: null` unsets the active clinic, and naming nothing keeps it: nothing to check.
    const id = text(body.organizationId);
    const slug = text(body.organizationSlug);
    return id ? { id } : slug ? { slug } : null;
  }
  const slug = text(query.organizationSlug);
  const id = text(query.organizationId) ?? activeId;
  return slug ? { slug } : id ? { id } : null;
}

export function clinicReads({ pool, clientIpHeader, log }: BetterAuthEntranceDeps & { log: SecurityLog }) {
  return {
    id: "temetro-clinic-reads",
    hooks: {
      before: [
        {
          matcher: (context: { path?: string }) => context.path === SET_ACTIVE || readPaths.has(context.path ?? ""),
          handler: createAuthMiddleware(async (ctx) => {
            const found = await getSessionFromCtx(ctx).catch(() => null);
            if (!found) return;
            const activeId = text(found.session.activeOrganizationId);
            const named = namedClinic(ctx.path, (ctx.query ?? {}) as Record<string, unknown>, (ctx.body ?? {}) as Record<string, unknown>, activeId);
            if (!named) return;
            const clinic = await findNamedClinic(pool, found.user.id, named);
            if (clinic?.isMember) return;
            await recordRefusal(pool, log, {
              reason: RefusalReason.NOT_A_MEMBER,
              userId: found.user.id,
              clinicId: clinic?.clinicId ?? null,
              clientIp: ctx.headers?.get(clientIpHeader) ?? null,
              route: `${ctx.request?.method ?? "GET"} ${ctx.path}`,
            });
            throw betterAuthRefusal(ErrorCode.NOT_A_CLINIC_MEMBER);
          }),
        },
      ],
    },
  } satisfies BetterAuthPlugin;
}
