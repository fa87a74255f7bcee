import { createAuthMiddleware } from "better-auth/api";
import type { Pool } from "pg";
import { betterAuthRefusal, ErrorCode } from "../errors.js";
import { successfulResult } from "../clinics/better-auth-plugin.js";
import { endInitialPassword } from "../clinics/initial-password.js";
import { withoutPlaceholderAddresses } from "../clinics/placeholder-addresses.js";
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
      const returned = successfulResult(ctx.context.returned);
      if (!returned) return;
      const user = returned.user as { id?: string; email?: unknown; name?: string; disabled?: unknown } | undefined;
      // The /api guard and introspection refuse a disabled account's sessions (sessions/directory.ts);
      // get-session says the same, whichever way it is asked.
      if (ctx.path === "/get-session" && user?.disabled === true) return ctx.json(null);
      let answer = returned;
      if (ctx.path === "/change-password" && user?.id) {
        // A successful change ends the forced first change and every reset link still out, and tells the owner.
        await endInitialPassword(deps.pool, deps.invalidate, user.id);
        await endResetLinks(deps.pool, user.id);
        if (typeof user.email === "string") await deps.notifyPasswordChanged({ email: user.email, name: user.name ?? "" });
        // Better Auth answers with the user it read before the change was ended: say what now holds.
        answer = { ...returned, user: { ...user, mustChangePassword: false } };
      }
      // A staff account without an address has none to show, not the placeholder that stands in
      // for it: its own answers, and the member lists of its clinic.
      answer = withoutPlaceholderAddresses(answer);
      if (answer !== returned) return ctx.json(answer);
    }),
  };
}
