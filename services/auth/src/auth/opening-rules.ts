import type { BetterAuthPlugin } from "better-auth";
import { createAuthMiddleware, getSessionFromCtx } from "better-auth/api";
import type { Pool } from "pg";
import type { Config } from "../config.js";
import { betterAuthRefusal, ErrorCode } from "../errors.js";

/**
 * Who may open an account (SIGN_UP) and who may open a clinic (CLINIC_CREATION) on this install.
 * Only people coming through HTTP are asked: the shell's `npm run create-owner` (an operator with
 * the database at hand) calls Better Auth directly and is never refused here. Accounts a clinic
 * creates (/api/staff) are not sign-ups and stay open whatever SIGN_UP says.
 */
export function openingRules({ pool, signUp, clinicCreation }: { pool: Pool } & Pick<Config, "signUp" | "clinicCreation">) {
  return {
    id: "temetro-opening-rules",
    hooks: {
      before: [
        {
          matcher: (context: { path?: string }) => context.path === "/sign-up/email" && signUp !== "open",
          handler: createAuthMiddleware(async (ctx) => {
            if (!ctx.request) return;
            if (signUp === "closed") throw betterAuthRefusal(ErrorCode.SIGN_UP_CLOSED);
            const email = (ctx.body as { email?: unknown } | undefined)?.email;
            if (typeof email !== "string" || !(await hasPendingInvitation(pool, email))) {
              throw betterAuthRefusal(ErrorCode.SIGN_UP_INVITE_ONLY);
            }
          }),
        },
        {
          matcher: (context: { path?: string }) => context.path === "/organization/create" && clinicCreation !== "anyone",
          handler: createAuthMiddleware(async (ctx) => {
            if (!ctx.request) return;
            if (clinicCreation === "none") throw betterAuthRefusal(ErrorCode.CLINIC_CREATION_CLOSED);
            const session = await getSessionFromCtx(ctx);
            // No session: Better Auth's own 401 says so.
            if (session && session.user.emailVerified !== true) throw betterAuthRefusal(ErrorCode.CLINIC_CREATION_CLOSED);
          }),
        },
      ],
    },
  } satisfies BetterAuthPlugin;
}

/** An invitation still open to `email`, in any clinic: the one thing that lets an invite-only sign-up in. */
async function hasPendingInvitation(pool: Pool, email: string): Promise<boolean> {
  const { rowCount } = await pool.query(
    `SELECT 1 FROM "invitation" WHERE lower("email") = lower($1) AND "status" = 'pending' AND "expiresAt" > now() LIMIT 1`,
    [email.trim()],
  );
  return (rowCount ?? 0) > 0;
}
