import type { Pool } from "pg";

/**
 * Reads of Better Auth's organization tables that the service makes itself, in one query each.
 * Table and column names are Better Auth's (camelCase, quoted).
 */

export interface Membership {
  clinic: { id: string; name: string; slug: string };
  role: string;
  /** The clinic's setting: staff must replace an admin-set password before using the data endpoints. */
  staffMustChangePassword: boolean;
}

/** The user's membership of a clinic with the clinic itself, or null when they are not a member. */
export async function findMembership(pool: Pool, userId: string, clinicId: string): Promise<Membership | null> {
  const { rows } = await pool.query<{ id: string; name: string; slug: string; role: string; staffMustChangePassword: boolean | null }>(
    `SELECT o."id", o."name", o."slug", m."role", o."staffMustChangePassword"
       FROM "member" m JOIN "organization" o ON o."id" = m."organizationId"
      WHERE m."userId" = $1 AND m."organizationId" = $2`,
    [userId, clinicId],
  );
  const row = rows[0];
  if (!row) return null;
  return {
    clinic: { id: row.id, name: row.name, slug: row.slug },
    role: row.role,
    // Clinics from before the setting existed keep the safe default.
    staffMustChangePassword: row.staffMustChangePassword !== false,
  };
}

/**
 * The clinic a request names (by id or slug) and whether the user belongs to it; null when no such
 * clinic exists.
 */
export async function findNamedClinic(
  pool: Pool,
  userId: string,
  named: { id: string } | { slug: string },
): Promise<{ clinicId: string; isMember: boolean } | null> {
  const [column, value] = "slug" in named ? [`o."slug"`, named.slug] : [`o."id"`, named.id];
  const { rows } = await pool.query<{ clinicId: string; isMember: boolean }>(
    `SELECT o."id" AS "clinicId",
            EXISTS (SELECT 1 FROM "member" m WHERE m."organizationId" = o."id" AND m."userId" = $2) AS "isMember"
       FROM "organization" o WHERE ${column} = $1`,
    [value, userId],
  );
  return rows[0] ?? null;
}
