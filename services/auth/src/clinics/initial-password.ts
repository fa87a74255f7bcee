import type { Pool } from "pg";
import type { Invalidation } from "../sessions/invalidation.js";
import { clearMustChangePassword } from "./staff-store.js";

/**
 * The "must replace the initial password" rule. A password an admin set (POST /api/staff, or
 * POST /api/staff/:userId/password) is an initial one; until its owner replaces it through
 * change-password, the data endpoints, introspection and the JWT treat the account as held back,
 * unless the clinic switched the rule off (its `staffMustChangePassword` setting).
 */
export function mustReplaceInitialPassword(
  user: { mustChangePassword?: unknown } & object,
  membership: { staffMustChangePassword: boolean } | null | undefined,
): boolean {
  // Without a clinic to ask, the safe answer: the password is still to be replaced.
  return user.mustChangePassword === true && (membership?.staffMustChangePassword ?? true);
}

/** The user replaced their password: the rule no longer holds them, on any replica. */
export async function endInitialPassword(
  pool: Pool,
  announce: (message: Invalidation) => Promise<void>,
  userId: string,
): Promise<void> {
  await clearMustChangePassword(pool, userId);
  await announce(`user:${userId}`);
}
