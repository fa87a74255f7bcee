import { createAuthMiddleware } from "better-auth/api";
import type { Pool } from "pg";
import { betterAuthRefusal, ErrorCode } from "../errors.js";
import { successfulResult } from "../clinics/better-auth-plugin.js";
import { endInitialPassword } from "../clinics/initial-password.js";
import type { Invalidation } from "../sessions/invalidation.js";
import type { EmailSenders } from "./email-senders.js";
import { endResetLinks } from "./reset-links.js";

/**
 * temetro's rules around Better Auth's own routes: an initial password must really be replaced,
 * not re-entered, and replacing it ends the forced change; a disabled account's sessions are worth
 * nothing. (The clinic membership rules are clinics/better-auth-plugin.ts's.)
 */
export function requestHooks(deps: {
  pool: Pool;
  invalidate: (message: Invalidation) => Promise<void>;
  notifyPasswordChanged: EmailSenders["notifyPasswordChanged"];
}) {
  return {
    before: createAuthMiddleware(async (ctx) => {
      if (ctx.path !== "/change-password") return;
      const body = ctx.body as { currentPassword?: unknown; newPassword?: unknown } | undefined;
      // Passwords are compared as NFKC text (sign-in/password-hasher.ts): a compatibility variant
      // of the current password (fullwidth letters, say) is the same password.
      const { newPassword, currentPassword } = body ?? {};
      if (typeof newPassword === "string" && typeof currentPassword === "string" && newPassword.normalize("NFKC") === currentPassword.normalize("NFKC")) {
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
      const { user } = (successfulResult(ctx.context.returned) ?? {}) as { user?: { id?: string; email?: string; name?: string } };
      if (!user?.id) return;
      // A successful change ends the forced first change and every reset link still out, and tells the owner.
      await endInitialPassword(deps.pool, deps.invalidate, user.id);
      await endResetLinks(deps.pool, user.id);
      if (user.email) await deps.notifyPasswordChanged({ email: user.email, name: user.name ?? "" });
    }),
  };
}
