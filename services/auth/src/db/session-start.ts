import { getCurrentAdapter } from "@better-auth/core/context";
import type { DBTransactionAdapter } from "@better-auth/core/db/adapter";

/**
 * What a new session needs to know about its user: whether the account is disabled, and the clinic
 * to act in when the user belongs to exactly one.
 *
 * Read through Better Auth's adapter, never the pool: a session is created inside Better Auth's
 * sign-up transaction, which holds one pooled connection while the password hashes. Asking the pool
 * for a second connection from there deadlocks once every connection is held by such a
 * transaction (each waits for a connection only a finished transaction would free). The adapter
 * joins the transaction in progress, on its connection, and is the plain pool outside one.
 */
export interface SessionStartFacts {
  disabled: boolean;
  soleClinicId: string | null;
}

export async function readSessionStartFacts(adapter: DBTransactionAdapter, userId: string): Promise<SessionStartFacts> {
  const db = await getCurrentAdapter(adapter);
  const user = await db.findOne<{ disabled?: boolean | null }>({
    model: "user",
    where: [{ field: "id", value: userId }],
    select: ["disabled"],
  });
  const memberships = await db.findMany<{ organizationId: string }>({
    model: "member",
    where: [{ field: "userId", value: userId }],
    select: ["organizationId"],
    limit: 2,
  });
  return {
    disabled: user?.disabled === true,
    soleClinicId: memberships.length === 1 ? memberships[0]!.organizationId : null,
  };
}
