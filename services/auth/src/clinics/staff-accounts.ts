import type { EmailJob } from "@temetro/shared";
import { withTransaction } from "../db/transaction.js";
import { ErrorCode, HttpError } from "../errors.js";
import type { Queryable } from "../email/outbox.js";
import { endResetLinks } from "../auth/reset-links.js";
import type { PasswordHasher } from "../sign-in/password-hasher.js";
import { AuditAction, auditingRefusals, recordAuditEvent } from "./audit.js";
import type { Actor, MembershipDeps } from "./membership.js";
import { memberNotFound, refuseOwnerChange, refuseUnassignableRole, refuseUnlessClinicControls } from "./refusals.js";
import { staffAccountRoles } from "./roles.js";
import { deleteAllSessions, findStaffMember, findTakenIdentifiers, insertStaffAccount, setPasswordHash } from "./staff-store.js";

/**
 * The staff accounts a clinic manages itself (they sign in by username): creating one, and setting
 * its initial password. Both hash through the process's bounded hasher (its slots and its metric),
 * and store their email in the transaction of the change: the change and its email exist together,
 * or neither does (`EmailNotStoredError` then leaves, and nothing was changed).
 */

export interface StaffAccountDeps extends MembershipDeps {
  passwordHasher: PasswordHasher;
  enqueueEmail: (job: EmailJob, db: Queryable) => Promise<void>;
  frontendUrl: string;
}

/** The clinic a staff account is made in, and its setting for initial passwords. */
export interface StaffClinic {
  id: string;
  name: string;
  staffMustChangePassword: boolean;
}

const uniqueViolation = (error: unknown) => (error as { code?: string }).code === "23505";

/** POST /api/staff: the user, their password and their membership, in one transaction. */
export async function createStaffAccount(
  deps: StaffAccountDeps,
  actor: Actor,
  clinic: StaffClinic,
  input: { name: string; username: string; password: string; role: string; email?: string | undefined },
) {
  refuseUnassignableRole(input.role, staffAccountRoles);
  const email = input.email?.toLowerCase() ?? null;
  const passwordHash = await deps.passwordHasher.hash(input.password);
  return withTransaction(deps.pool, async (client) => {
    const taken = await findTakenIdentifiers(client, input.username, email);
    if (taken.username) throw new HttpError(ErrorCode.USERNAME_TAKEN);
    if (taken.email) throw new HttpError(ErrorCode.EMAIL_TAKEN);
    const userId = await insertStaffAccount(client, {
      clinicId: clinic.id,
      name: input.name,
      username: input.username,
      email,
      passwordHash,
      role: input.role,
      mustChangePassword: clinic.staffMustChangePassword,
    });
    await recordAuditEvent(client, {
      clinicId: clinic.id,
      action: AuditAction.STAFF_CREATED,
      actorUserId: actor.userId,
      clientIp: actor.clientIp,
      targetUserId: userId,
      detail: { username: input.username.toLowerCase(), role: input.role },
    });
    const member = (await findStaffMember(client, clinic.id, userId))!;
    // Only a real address hears about the account; a made-up one gets nothing at all.
    if (email) {
      await deps.enqueueEmail(
        {
          kind: "welcome",
          to: email,
          name: input.name,
          username: member.username ?? input.username,
          clinicName: clinic.name,
          url: `${deps.frontendUrl}/sign-in`,
        },
        client,
      );
    }
    return member;
  }).catch((error: unknown) => {
    // Two requests for one username at once: the unique index decides.
    if (uniqueViolation(error)) throw new HttpError(ErrorCode.USERNAME_TAKEN, "This username or email is taken");
    throw error;
  });
}

/**
 * POST /api/staff/:userId/password: a new initial password for an account this clinic created.
 * Whoever held the old one is signed out everywhere, at once; the owner of the address hears of it.
 */
export async function setInitialPassword(deps: StaffAccountDeps, actor: Actor, clinic: StaffClinic, userId: string, password: string) {
  const passwordHash = await deps.passwordHasher.hash(password);
  const refusal = { clinicId: clinic.id, action: AuditAction.PASSWORD_SET_REFUSED, actorUserId: actor.userId, clientIp: actor.clientIp, targetUserId: userId };
  const updated = await auditingRefusals(deps.pool, [ErrorCode.NOT_A_CLINIC_ACCOUNT, ErrorCode.ACCOUNT_CLAIMED], refusal, () => withTransaction(deps.pool, async (client) => {
    const member = await findStaffMember(client, clinic.id, userId, { lock: true });
    if (!member) throw memberNotFound();
    // A person who joined by invitation, or claimed the account the clinic made, owns it.
    refuseUnlessClinicControls(member);
    refuseOwnerChange(member);
    await setPasswordHash(client, member.userId, passwordHash, clinic.staffMustChangePassword);
    await deleteAllSessions(client, member.userId);
    // A reset link asked for before would undo the password the clinic just chose.
    await endResetLinks(client, member.userId);
    await recordAuditEvent(client, {
      clinicId: clinic.id,
      action: AuditAction.PASSWORD_SET_BY_ADMIN,
      actorUserId: actor.userId,
      clientIp: actor.clientIp,
      targetUserId: member.userId,
    });
    if (member.email) {
      await deps.enqueueEmail(
        { kind: "password-changed", to: member.email, name: member.name, changedAt: new Date().toISOString() },
        client,
      );
    }
    return { ...member, mustChangePassword: clinic.staffMustChangePassword };
  }));
  await deps.announce(`user:${updated.userId}`);
  return updated;
}
