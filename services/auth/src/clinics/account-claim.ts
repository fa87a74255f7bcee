import type { BetterAuthPlugin } from "better-auth";
import { createAuthMiddleware } from "better-auth/api";
import type { Pool } from "pg";

/**
 * Records, durably, that the owner of an account's mailbox proved control of it (the user's
 * `claimedAt`). A clinic's powers over a staff account it created (set its password, disable it on
 * removal, lift its lockout) end there (clinics/refusals.ts, `refuseUnlessClinicControls`), so
 * a clinic that created an account for someone else's address cannot keep it once that person
 * uses it. Two proofs, both only the mailbox can give:
 * - the verification link: the claim is written in the same update that marks the address verified;
 * - a reset link: the claim is written when a valid reset token is presented, before the new
 *   password is, so no clinic can set a password between the owner's reset and the claim.
 */

const RESET = "/reset-password";

async function claim(pool: Pool, userId: string): Promise<void> {
  await pool.query(`UPDATE "user" SET "claimedAt" = now() WHERE "id" = $1 AND "claimedAt" IS NULL`, [userId]);
}

export function accountClaim({ pool }: { pool: Pool }) {
  return {
    id: "temetro-account-claim",
    init() {
      return {
        options: {
          databaseHooks: {
            user: {
              update: {
                before: async (data: Record<string, unknown>) => {
                  if (data.emailVerified !== true) return;
                  return { data: { ...data, claimedAt: new Date() } };
                },
              },
            },
          },
        },
      };
    },
    hooks: {
      before: [
        {
          matcher: (context: { path?: string }) => context.path === RESET,
          handler: createAuthMiddleware(async (ctx) => {
            const body = (ctx.body ?? {}) as { token?: unknown };
            const query = (ctx.query ?? {}) as { token?: unknown };
            const token = typeof body.token === "string" && body.token ? body.token : query.token;
            if (typeof token !== "string" || !token) return;
            // The token Better Auth is about to accept: the user it was emailed to is its value.
            const verification = await ctx.context.internalAdapter.findVerificationValue(`reset-password:${token}`);
            if (!verification || verification.expiresAt < new Date()) return;
            await claim(pool, verification.value);
          }),
        },
      ],
    },
  } satisfies BetterAuthPlugin;
}
