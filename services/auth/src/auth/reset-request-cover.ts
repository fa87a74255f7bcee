import { randomBytes } from "node:crypto";
import type { BetterAuthPlugin } from "better-auth";
import { createAuthMiddleware, isAPIError } from "better-auth/api";

/**
 * A reset request must take as long for an address no account has as for a real one (user
 * enumeration by timing). Better Auth's two paths differ in their writes: for a real account it
 * inserts the link's verification row (a committed write), for an unknown one it only reads a
 * dummy row. After either, this plugin does the other path's half, so both do one lookup of the
 * account, one read of a verification row and one insert of one:
 * - a real account: the same read of a dummy verification row the unknown path makes;
 * - an unknown address: the same insert a real link costs, of a row whose token is never sent and
 *   which names no account (its token cannot complete a reset), expiring as a real link does.
 * The request's email write (the reset email, or a decoy row: email/plugin.ts) is the same for both.
 */
const RESET_REQUEST_PATH = "/request-password-reset";

export function resetRequestCover({ linkLifetimeSeconds }: { linkLifetimeSeconds: number }): BetterAuthPlugin {
  return {
    id: "temetro-reset-request-cover",
    hooks: {
      after: [
        {
          matcher: (context) => context.path === RESET_REQUEST_PATH,
          handler: createAuthMiddleware(async (ctx) => {
            if (isAPIError(ctx.context.returned)) return;
            const email = (ctx.body as { email?: unknown } | undefined)?.email;
            if (typeof email !== "string") return;
            const { internalAdapter } = ctx.context;
            if (await internalAdapter.findUserByEmail(email)) {
              await internalAdapter.findVerificationValue("dummy-verification-token");
              return;
            }
            await internalAdapter.createVerificationValue({
              // Never emailed, never logged: nobody holds it.
              identifier: `reset-password:${randomBytes(18).toString("base64url")}`,
              value: "",
              expiresAt: new Date(Date.now() + linkLifetimeSeconds * 1000),
            });
          }),
        },
      ],
    },
  };
}
