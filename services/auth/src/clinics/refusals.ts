import { APIError } from "better-auth/api";
import { ErrorCode, HttpError } from "../errors.js";
import { assignableRoles, OWNER_ROLE } from "./roles.js";

/**
 * Every refusal of a change to a clinic's members, once: the same status, code and message
 * whichever entrance the change came through (Better Auth's organization routes or /api).
 */

export const roleForbids = () => new HttpError(ErrorCode.FORBIDDEN);

export const memberNotFound = () => new HttpError(ErrorCode.MEMBER_NOT_FOUND);

export const ownerProtected = () => new HttpError(ErrorCode.OWNER_ROLE_PROTECTED);

export const notAClinicAccount = () => new HttpError(ErrorCode.NOT_A_CLINIC_ACCOUNT);

/**
 * Emails to other people's mailboxes (invitations, a staff account's welcome) are sent only for an
 * account whose own address is verified: an unverified one may not even be its owner's.
 */
export function refuseUnverifiedSender(sender: { emailVerified?: unknown }): void {
  if (sender.emailVerified !== true) throw new HttpError(ErrorCode.EMAIL_NOT_VERIFIED);
}

export const accountClaimed = () => new HttpError(ErrorCode.ACCOUNT_CLAIMED);

/**
 * A clinic's powers over an account it created hold only while nobody else has claimed it
 * (clinics/account-claim.ts): a person who joined by invitation, or who proved their mailbox or uses
 * the account in another clinic, owns it.
 */
export function refuseUnlessClinicControls(member: { createdByClinic: boolean; accountClaimed: boolean }): void {
  if (!member.createdByClinic) throw notAClinicAccount();
  if (member.accountClaimed) throw accountClaimed();
}

/** A role value may list several roles, comma-separated (Better Auth's format). */
export const rolesIn = (role: string) => role.split(",").map((part) => part.trim());

export const isOwner = (role: string) => rolesIn(role).includes(OWNER_ROLE);

/** Roles are given by invitation, role change or staff creation; owner never (it moves by transfer). */
export function refuseUnassignableRole(role: string, allowed: readonly string[] = assignableRoles): void {
  if (isOwner(role)) {
    throw new HttpError(ErrorCode.ROLE_NOT_ASSIGNABLE, "Ownership moves only by transfer (POST /api/clinic/transfer-ownership)");
  }
  if (!allowed.includes(role)) {
    throw new HttpError(ErrorCode.ROLE_NOT_ASSIGNABLE, `Role must be one of: ${allowed.join(", ")}`);
  }
}

/** The owner's membership is changed only by the transfer, so a clinic always keeps its owner. */
export function refuseOwnerChange(member: { role: string }): void {
  if (isOwner(member.role)) throw ownerProtected();
}

/**
 * The same refusal as Better Auth raises its own, so that its routes answer it with their usual
 * body (`message` beside `error` and `code`, auth/routes.ts) and its status.
 */
export function asBetterAuthError(error: unknown): unknown {
  if (!(error instanceof HttpError)) return error;
  return new APIError(error.statusCode as 400, { code: error.code, message: error.message });
}

/** Runs a check from a Better Auth hook: a refusal leaves as Better Auth's own error. */
export async function refusingForBetterAuth<T>(check: () => T | Promise<T>): Promise<T> {
  try {
    return await check();
  } catch (error) {
    throw asBetterAuthError(error);
  }
}
