import type { Queryable } from "../email/outbox.js";

/**
 * A password reset link is a way into the account for whoever holds the email. Once the password
 * has been chosen anew (a reset completed, change-password, an admin's new initial password), every
 * link still outstanding was asked for before that choice and must not undo it: all of them end.
 * Better Auth keeps them in `verification` as `reset-password:<token>`, the user's id as the value.
 */
export async function endResetLinks(db: Queryable, userId: string): Promise<void> {
  await db.query(`DELETE FROM "verification" WHERE "identifier" LIKE 'reset-password:%' AND "value" = $1`, [userId]);
}
