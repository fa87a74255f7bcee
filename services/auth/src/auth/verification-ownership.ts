import { randomBytes } from "node:crypto";
import { tryGetCurrentAuthEndpointContext } from "@better-auth/core/context";
import type { GenericEndpointContext } from "better-auth";
import { getSessionFromCtx } from "better-auth/api";
import type { Pool } from "pg";
import { tokenLifetimes } from "@temetro/shared";
import { withTransaction } from "../db/transaction.js";
import type { Invalidation } from "../sessions/invalidation.js";

/**
 * Following a verification link proves control of the mailbox, not of the password: someone may
 * have signed up with another person's address, chosen the password and kept a session
 * ("pre-hijacking"). So the link makes the account the mailbox owner's:
 * - in a browser that holds a session of the account (the one that signed up), that session goes
 *   on and every other session of the account ends;
 * - anywhere else, nobody is signed in: every session ends, the password chosen before
 *   verification is replaced by one nobody knows, and the link leads on to the frontend's
 *   reset-password page with a fresh reset token, where the owner chooses their own.
 */

export interface VerificationOwnershipDeps {
  pool: Pool;
  invalidate: (message: Invalidation) => Promise<void>;
  frontendUrl: string;
}

/** Query parameter the reset page receives, so it can say why a password is asked for. */
export const VERIFIED_ELSEWHERE_REASON = "verified-elsewhere";

export function verificationOwnership({ pool, invalidate, frontendUrl }: VerificationOwnershipDeps) {
  /** Better Auth's `emailVerification.afterEmailVerification`: runs once, when the address becomes verified. */
  return async function claimAccountForMailboxOwner(user: { id: string }): Promise<void> {
    const ctx = tryGetCurrentAuthEndpointContext() as GenericEndpointContext | undefined;
    // Only the verify-email route verifies an address here; without its request there is no browser to judge.
    if (!ctx) throw new Error("email verified outside a request");
    const session = await getSessionFromCtx(ctx).catch(() => null);
    const keptSessionId = session?.user.id === user.id ? session.session.id : null;

    const unknownPassword = keptSessionId ? null : await ctx.context.password.hash(randomBytes(32).toString("base64url"));
    await withTransaction(pool, async (client) => {
      await client.query(`DELETE FROM "session" WHERE "userId" = $1 AND "id" IS DISTINCT FROM $2`, [user.id, keptSessionId]);
      if (unknownPassword) {
        await client.query(`UPDATE "account" SET "password" = $2, "updatedAt" = now() WHERE "userId" = $1 AND "providerId" = 'credential'`, [
          user.id,
          unknownPassword,
        ]);
      }
    });
    await invalidate(`user:${user.id}`);
    if (keptSessionId) return;

    const token = randomBytes(24).toString("base64url");
    await ctx.context.internalAdapter.createVerificationValue({
      identifier: `reset-password:${token}`,
      value: user.id,
      expiresAt: new Date(Date.now() + tokenLifetimes.resetPasswordSeconds * 1000),
    });
    const resetPage = new URL(`${frontendUrl}/reset-password`);
    resetPage.searchParams.set("token", token);
    resetPage.searchParams.set("reason", VERIFIED_ELSEWHERE_REASON);
    throw ctx.redirect(resetPage.toString());
  };
}
