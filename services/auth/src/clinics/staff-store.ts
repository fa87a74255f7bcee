import { randomUUID } from "node:crypto";
import type { Pool, PoolClient } from "pg";

/**
 * Writes to Better Auth's user, account, member and session tables that must happen together
 * (one transaction each), for the staff accounts a clinic manages. Column names are Better Auth's,
 * including the user fields auth/schema.ts declares (mustChangePassword, createdByClinicId, disabled).
 */

/**
 * Better Auth needs an email for every user. A staff account created without one gets an address
 * under the reserved `.invalid` top-level domain (RFC 2606): unique, never deliverable, and never
 * shown as the person's email.
 */
export const PLACEHOLDER_EMAIL_DOMAIN = "staff.temetro.invalid";

export function placeholderEmail(): string {
  return `${randomUUID()}@${PLACEHOLDER_EMAIL_DOMAIN}`;
}

export function isPlaceholderEmail(email: string): boolean {
  return email.toLowerCase().endsWith(`@${PLACEHOLDER_EMAIL_DOMAIN}`);
}

export interface NewStaffAccount {
  clinicId: string;
  name: string;
  /** As typed; stored lower-cased in `username` (what sign-in matches) and as typed in `displayUsername`. */
  username: string;
  email: string | null;
  passwordHash: string;
  role: string;
  mustChangePassword: boolean;
}

/** Inserts the user, their password (credential account) and their membership; returns the user id. */
export async function insertStaffAccount(client: PoolClient, account: NewStaffAccount): Promise<string> {
  const userId = randomUUID();
  const now = new Date();
  const email = account.email?.toLowerCase() ?? placeholderEmail();
  await client.query(
    `INSERT INTO "user" ("id", "name", "email", "emailVerified", "createdAt", "updatedAt", "username", "displayUsername",
                         "mustChangePassword", "createdByClinicId", "disabled")
     VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8, $9, false)`,
    // A made-up address has nothing to verify: the clinic vouches for the account, and sign-in
    // must not wait for a verification email that cannot arrive (REQUIRE_EMAIL_VERIFICATION).
    [userId, account.name, email, account.email === null, now, account.username.toLowerCase(), account.username, account.mustChangePassword, account.clinicId],
  );
  await client.query(
    `INSERT INTO "account" ("id", "accountId", "providerId", "userId", "password", "createdAt", "updatedAt")
     VALUES ($1, $2, 'credential', $2, $3, $4, $4)`,
    [randomUUID(), userId, account.passwordHash, now],
  );
  await client.query(
    `INSERT INTO "member" ("id", "organizationId", "userId", "role", "createdAt") VALUES ($1, $2, $3, $4, $5)`,
    [randomUUID(), account.clinicId, userId, account.role, now],
  );
  return userId;
}

/** Which of a username (any case) and an email are already held by an account. */
export async function findTakenIdentifiers(
  db: Pool | PoolClient,
  username: string,
  email: string | null,
): Promise<{ username: boolean; email: boolean }> {
  const { rows } = await db.query<{ username_taken: boolean; email_taken: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM "user" WHERE lower("username") = lower($1)) AS username_taken,
            EXISTS (SELECT 1 FROM "user" WHERE $2::text IS NOT NULL AND lower("email") = lower($2::text)) AS email_taken`,
    [username, email],
  );
  return { username: rows[0]!.username_taken, email: rows[0]!.email_taken };
}

export interface StaffMember {
  userId: string;
  name: string;
  username: string | null;
  /** Null for an account created without a real address. */
  email: string | null;
  role: string;
  mustChangePassword: boolean;
  disabled: boolean;
  /** Whether this clinic created the account (POST /api/staff) rather than the person joining by invitation. */
  createdByClinic: boolean;
  /** Whether someone else holds the account: its mailbox owner proved control, or another clinic has it as a member. */
  accountClaimed: boolean;
  joinedAt: string;
}

interface StaffRow {
  userId: string;
  name: string;
  username: string | null;
  email: string;
  role: string;
  mustChangePassword: boolean | null;
  disabled: boolean | null;
  createdByClinicId: string | null;
  accountClaimed: boolean;
  joinedAt: Date;
}

/**
 * Whether the user `user` (an alias) is claimed as seen from the clinic `clinicId` (an SQL
 * expression): proved by its mailbox owner (account-claim.ts), or a member of any other clinic.
 */
const accountClaimedSql = (user: string, clinicId: string) =>
  `(${user}."claimedAt" IS NOT NULL OR EXISTS (SELECT 1 FROM "member" other WHERE other."userId" = ${user}."id" AND other."organizationId" <> ${clinicId}))`;

// The username as sign-in matches it; its display form only when that is the same name in another
// case, so no row can show a name another account signs in with.
const staffColumns = `u."id" AS "userId", u."name",
  CASE WHEN lower(u."displayUsername") = u."username" THEN u."displayUsername" ELSE u."username" END AS "username", u."email",
  m."role", u."mustChangePassword", u."disabled", u."createdByClinicId", ${accountClaimedSql("u", `m."organizationId"`)} AS "accountClaimed",
  m."createdAt" AS "joinedAt"`;

function toStaffMember(row: StaffRow, clinicId: string): StaffMember {
  return {
    userId: row.userId,
    name: row.name,
    username: row.username,
    email: isPlaceholderEmail(row.email) ? null : row.email,
    role: row.role,
    mustChangePassword: row.mustChangePassword === true,
    disabled: row.disabled === true,
    createdByClinic: row.createdByClinicId === clinicId,
    accountClaimed: row.accountClaimed,
    joinedAt: row.joinedAt.toISOString(),
  };
}

export async function listStaff(db: Pool, clinicId: string): Promise<StaffMember[]> {
  const { rows } = await db.query<StaffRow>(
    `SELECT ${staffColumns} FROM "member" m JOIN "user" u ON u."id" = m."userId"
      WHERE m."organizationId" = $1 ORDER BY m."createdAt", u."id"`,
    [clinicId],
  );
  return rows.map((row) => toStaffMember(row, clinicId));
}

/**
 * A member of the clinic; with `lock`, their membership and user rows are locked until the
 * transaction ends (a claim of the account, account-claim.ts, waits for the change).
 */
export async function findStaffMember(
  db: Pool | PoolClient,
  clinicId: string,
  userId: string,
  { lock = false } = {},
): Promise<StaffMember | null> {
  const { rows } = await db.query<StaffRow>(
    `SELECT ${staffColumns} FROM "member" m JOIN "user" u ON u."id" = m."userId"
      WHERE m."organizationId" = $1 AND m."userId" = $2 ${lock ? `FOR UPDATE OF m, u` : ""}`,
    [clinicId, userId],
  );
  return rows[0] ? toStaffMember(rows[0], clinicId) : null;
}

/**
 * A member of the clinic named the way Better Auth's organization routes name one: by the member
 * row's id, or by the person's email (remove-member's `memberIdOrEmail`).
 */
export async function findStaffMemberByReference(
  db: Pool | PoolClient,
  clinicId: string,
  reference: { memberId: string } | { email: string },
): Promise<StaffMember | null> {
  const [column, value] = "memberId" in reference ? [`m."id"`, reference.memberId] : [`lower(u."email")`, reference.email.toLowerCase()];
  const { rows } = await db.query<StaffRow>(
    `SELECT ${staffColumns} FROM "member" m JOIN "user" u ON u."id" = m."userId"
      WHERE m."organizationId" = $1 AND ${column} = $2`,
    [clinicId, value],
  );
  return rows[0] ? toStaffMember(rows[0], clinicId) : null;
}

export async function updateMemberRole(client: PoolClient, clinicId: string, userId: string, role: string): Promise<void> {
  await client.query(`UPDATE "member" SET "role" = $3 WHERE "organizationId" = $1 AND "userId" = $2`, [clinicId, userId, role]);
}

export async function deleteMembership(client: PoolClient, clinicId: string, userId: string): Promise<void> {
  await client.query(`DELETE FROM "member" WHERE "organizationId" = $1 AND "userId" = $2`, [clinicId, userId]);
}

/** Replaces the user's password and says whether they must change it at their next sign-in. */
export async function setPasswordHash(client: PoolClient, userId: string, passwordHash: string, mustChangePassword: boolean) {
  await client.query(
    `UPDATE "account" SET "password" = $2, "updatedAt" = now() WHERE "userId" = $1 AND "providerId" = 'credential'`,
    [userId, passwordHash],
  );
  await client.query(`UPDATE "user" SET "mustChangePassword" = $2, "updatedAt" = now() WHERE "id" = $1`, [userId, mustChangePassword]);
}

/** The initial password was replaced by its owner: nothing more to force. */
export async function clearMustChangePassword(db: Pool | PoolClient, userId: string): Promise<void> {
  await db.query(`UPDATE "user" SET "mustChangePassword" = false WHERE "id" = $1 AND "mustChangePassword"`, [userId]);
}

/** A disabled account cannot sign in (auth/session-hooks.ts refuses to create its sessions). */
export async function disableUser(client: Pool | PoolClient, userId: string): Promise<void> {
  await client.query(`UPDATE "user" SET "disabled" = true, "updatedAt" = now() WHERE "id" = $1`, [userId]);
}

/** Ends every session of the user: their next request is unauthenticated. */
export async function deleteAllSessions(client: Pool | PoolClient, userId: string): Promise<void> {
  await client.query(`DELETE FROM "session" WHERE "userId" = $1`, [userId]);
}

/** Ends the user's sessions that act in one clinic; their sessions in other clinics go on. */
export async function deleteClinicSessions(client: Pool | PoolClient, userId: string, clinicId: string): Promise<void> {
  await client.query(`DELETE FROM "session" WHERE "userId" = $1 AND "activeOrganizationId" = $2`, [userId, clinicId]);
}

/** Whether a user is claimed as seen from a clinic (after their membership there was removed, too). */
export async function isAccountClaimed(db: Pool | PoolClient, userId: string, clinicId: string): Promise<boolean> {
  const { rows } = await db.query<{ claimed: boolean }>(
    `SELECT ${accountClaimedSql("u", "$2")} AS "claimed" FROM "user" u WHERE u."id" = $1`,
    [userId, clinicId],
  );
  return rows[0]?.claimed === true;
}

/** The clinic created the account and nobody has claimed it: the clinic may disable it. */
export const clinicControls = (member: { createdByClinic: boolean; accountClaimed: boolean }) =>
  member.createdByClinic && !member.accountClaimed;

/**
 * What removal from a clinic does beyond the membership row: an account the clinic controls is
 * disabled and all its sessions end; a person who owns their account (joined by invitation, or
 * claimed the one the clinic created) loses only the sessions that act in this clinic.
 */
export async function endRemovedMemberAccess(
  client: Pool | PoolClient,
  member: { userId: string; createdByClinic: boolean; accountClaimed: boolean },
  clinicId: string,
): Promise<void> {
  if (clinicControls(member)) {
    await disableUser(client, member.userId);
    await deleteAllSessions(client, member.userId);
  } else {
    await deleteClinicSessions(client, member.userId, clinicId);
  }
}

/** The user behind a username (any case), with their address. */
export async function findUserByUsername(db: Pool, username: string): Promise<{ id: string; email: string } | null> {
  const { rows } = await db.query<{ id: string; email: string }>(
    `SELECT "id", "email" FROM "user" WHERE "username" = lower($1)`,
    [username],
  );
  return rows[0] ?? null;
}
