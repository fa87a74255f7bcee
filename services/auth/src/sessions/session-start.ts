import { getCurrentAdapter, getCurrentDBAdapterAsyncLocalStorage } from "@better-auth/core/context";
import type { DBTransactionAdapter } from "@better-auth/core/db/adapter";
import type { Pool } from "pg";

/**
 * What a new session needs to know about its user: whether the account is disabled, and the clinic
 * to act in when the user belongs to exactly one.
 *
 * Inside one of Better Auth's transactions (sign-up creates its session in the transaction that
 * holds a pooled connection while the password hashes) it is read through Better Auth's adapter,
 * which joins that transaction on its connection. Asking the pool for a second connection from
 * there deadlocks once every connection is held by such a transaction: each waits for a connection
 * only a finished transaction would free. Outside a transaction (sign-in) one query on the pool
 * answers both questions.
 */
export interface SessionStartFacts {
  disabled: boolean;
  soleClinicId: string | null;
}

export async function readSessionStartFacts(
  /** Better Auth's adapter of the request (absent when a session is created outside one). */
  adapter: DBTransactionAdapter | undefined,
  pool: Pool,
  userId: string,
): Promise<SessionStartFacts> {
  const inTransaction = (await getCurrentDBAdapterAsyncLocalStorage()).getStore()?.isTransactionActive === true;
  if (!adapter || !inTransaction) {
    const { rows } = await pool.query<{ disabled: boolean | null; clinics: string[] | null }>(
      `SELECT u."disabled",
              ARRAY(SELECT m."organizationId" FROM "member" m WHERE m."userId" = u."id" LIMIT 2) AS clinics
         FROM "user" u WHERE u."id" = $1`,
      [userId],
    );
    const clinics = rows[0]?.clinics ?? [];
    return { disabled: rows[0]?.disabled === true, soleClinicId: clinics.length === 1 ? clinics[0]! : null };
  }
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
