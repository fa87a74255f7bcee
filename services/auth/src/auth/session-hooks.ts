import type { BetterAuthOptions } from "better-auth";
import { betterAuthRefusal, ErrorCode } from "../errors.js";
import type { Pool } from "pg";
import type { Invalidation } from "../sessions/invalidation.js";
import { readSessionStartFacts } from "../sessions/session-start.js";

/**
 * Better Auth's database hooks on users and sessions. Every change that alters who a session
 * belongs to or what it may do is announced to every replica by PostgreSQL's triggers, in the
 * change's transaction (migration 0005); these hooks make this replica forget at once, and wait for
 * nothing (sessions/invalidation.ts). A new session refuses a disabled account and starts in the
 * user's clinic when there is exactly one.
 */
export function sessionHooks(pool: Pool, invalidate: (message: Invalidation) => Promise<void>) {
  const forgetUser = async (user: { id: string }) => invalidate(`user:${user.id}`);
  const forgetSession = async (session: { id: string }) => invalidate(`session:${session.id}`);
  return {
    user: { update: { after: forgetUser }, delete: { after: forgetUser } },
    session: {
      update: { after: forgetSession },
      delete: { after: forgetSession },
      create: {
        // Read on the connection of the transaction the session is created in (sign-up holds one
        // while it hashes): a second connection from the pool can deadlock it.
        before: async (session, context) => {
          const facts = await readSessionStartFacts(context?.context.adapter, pool, session.userId);
          if (facts.disabled) {
            throw betterAuthRefusal(ErrorCode.ACCOUNT_DISABLED);
          }
          if (session.activeOrganizationId || !facts.soleClinicId) return;
          return { data: { ...session, activeOrganizationId: facts.soleClinicId } };
        },
      },
    },
  } satisfies NonNullable<BetterAuthOptions["databaseHooks"]>;
}
