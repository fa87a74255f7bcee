import type { BetterAuthPlugin } from "better-auth";
import { createAuthMiddleware, getSessionFromCtx } from "better-auth/api";
import { betterAuthRefusal, ErrorCode } from "../errors.js";
import type { BetterAuthEntranceDeps } from "./better-auth-hooks.js";
import { mustReplaceInitialPassword } from "./initial-password.js";
import { findMembership } from "./membership-store.js";
import { isAct, recordRefusal, RefusalReason, type SecurityLog } from "./refusal-audit.js";

/**
 * Better Auth's routes under the initial-password rule, as the /api guard and the token route
 * already are: while an admin-set password is still to be replaced, the session may only replace it,
 * ask who it is and sign out. Otherwise whoever knows the initial password (the admin who chose
 * it) could act as the staff member through Better Auth's organization routes, update-user...
 */

/**
 * What a browser needs while held back: the way out, signing in and out, and the links that prove
 * control of the mailbox with a token (not with the session): verification and password reset.
 */
const allowedPaths = new Set([
  "/change-password",
  "/get-session",
  "/sign-out",
  "/ok",
  "/error",
  "/jwks",
  "/verify-email",
  "/request-password-reset",
  "/reset-password",
  "/reset-password/:token",
]);
const allowedPrefixes = ["/sign-in/", "/sign-up/"];

const isAllowed = (path: string | undefined) =>
  path !== undefined && (allowedPaths.has(path) || allowedPrefixes.some((prefix) => path.startsWith(prefix)));

export function initialPasswordGate({ pool, clientIpHeader, log }: BetterAuthEntranceDeps & { log: SecurityLog }) {
  return {
    id: "temetro-initial-password-gate",
    hooks: {
      before: [
        {
          matcher: (context: { path?: string }) => !isAllowed(context.path),
          handler: createAuthMiddleware(async (ctx) => {
            const found = await getSessionFromCtx(ctx).catch(() => null);
            if (!found || (found.user as { mustChangePassword?: unknown }).mustChangePassword !== true) return;
            const clinicId = (found.session.activeOrganizationId as string | null | undefined) ?? null;
            const membership = clinicId ? await findMembership(pool, found.user.id, clinicId) : null;
            if (!mustReplaceInitialPassword(found.user, membership)) return;
            const method = ctx.request?.method ?? "POST";
            if (isAct(method)) {
              await recordRefusal(pool, log, {
                reason: RefusalReason.PASSWORD_CHANGE_REQUIRED,
                userId: found.user.id,
                clinicId: membership ? clinicId : null,
                clientIp: ctx.headers?.get(clientIpHeader) ?? null,
                route: `${method} ${ctx.path}`,
              });
            }
            throw betterAuthRefusal(ErrorCode.PASSWORD_CHANGE_REQUIRED);
          }),
        },
      ],
    },
  } satisfies BetterAuthPlugin;
}
