import { createAuthMiddleware, isAPIError } from "better-auth/api";
import type { Pool } from "pg";
import { betterAuthRefusal, ErrorCode } from "../errors.js";
import { refuseUnassignableRole } from "../clinics/membership-rules.js";
import type { Invalidation } from "../sessions/invalidation.js";
import type { EmailSenders } from "./email-senders.js";

/**
 * temetro's rules around Better Auth's own routes: invitations carry one of temetro's assignable
 * roles; an initial password must really be replaced, not re-entered, and replacing it ends the
 * forced change; a disabled account's sessions are worth nothing.
 */
export function requestHooks(deps: {
  pool: Pool;
  invalidate: (message: Invalidation) => Promise<void>;
  notifyPasswordChanged: EmailSenders["notifyPasswordChanged"];
}) {
  return {
    before: createAuthMiddleware(async (ctx) => {
      // Checked before Better Auth's own role check, which answers an unknown role without a code.
      if (ctx.path === "/organization/invite-member") {
        const role = (ctx.body as { role?: unknown } | undefined)?.role;
        refuseUnassignableRole(Array.isArray(role) ? role.join(",") : String(role ?? ""));
        return;
      }
      if (ctx.path !== "/change-password") return;
      const body = ctx.body as { currentPassword?: unknown; newPassword?: unknown } | undefined;
      if (typeof body?.newPassword === "string" && body.newPassword === body.currentPassword) {
        throw betterAuthRefusal(ErrorCode.PASSWORD_UNCHANGED);
      }
    }),
    after: createAuthMiddleware(async (ctx) => {
      // The /api guard and introspection refuse a disabled account's sessions (sessions/directory.ts);
      // get-session says the same, whichever way it is asked.
      if (ctx.path === "/get-session") {
        const returned = ctx.context.returned as { user?: { disabled?: unknown } } | null | undefined;
        if (returned && !(returned instanceof Response) && returned.user?.disabled === true) return ctx.json(null);
        return;
      }
      if (ctx.path !== "/change-password") return;
      const returned = ctx.context.returned;
      if (!returned || isAPIError(returned) || returned instanceof Error || returned instanceof Response) return;
      const { user } = returned as { user?: { id?: string; email?: string; name?: string } };
      if (!user?.id) return;
      // A successful change ends the forced first change, and tells the owner.
      await deps.pool.query(`UPDATE "user" SET "mustChangePassword" = false WHERE "id" = $1 AND "mustChangePassword"`, [
        user.id,
      ]);
      await deps.invalidate(`user:${user.id}`);
      if (user.email) await deps.notifyPasswordChanged({ email: user.email, name: user.name ?? "" });
    }),
  };
}
