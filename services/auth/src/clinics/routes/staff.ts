import type { FastifyInstance } from "fastify";
import { grants, manageStaff, OWNER_ROLE, permissionsOf, providerPermission, assignableRoles, staffAccountRoles } from "../roles.js";
import { AuditAction, recordAuditEvent } from "../audit.js";
import {
  deleteAllSessions,
  deleteMembership,
  endRemovedMemberAccess,
  findStaffMember,
  findTakenIdentifiers,
  insertStaffAccount,
  listStaff,
  setPasswordHash,
  updateMemberRole,
  type StaffMember,
} from "../staff-store.js";
import { withTransaction } from "../../db/transaction.js";
import { ErrorCode, HttpError } from "../../errors.js";
import { EmailNotStoredError, sendEmailNotStored } from "../../email/plugin.js";
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from "../../sign-in/password-hasher.js";

/**
 * The clinic's people: staff accounts the clinic creates (they sign in by username), the member
 * list, role changes, initial passwords and removal. Owners and admins only, except the list of
 * providers, which every member needs to assign a patient's provider.
 */

const USERNAME_PATTERN = "^[A-Za-z0-9._]{3,32}$";

const password = { type: "string", minLength: MIN_PASSWORD_LENGTH, maxLength: MAX_PASSWORD_LENGTH } as const;
const userIdParams = {
  type: "object",
  required: ["userId"],
  additionalProperties: false,
  properties: { userId: { type: "string", minLength: 1, maxLength: 128 } },
} as const;

const staffMember = {
  type: "object",
  additionalProperties: false,
  required: ["userId", "name", "username", "email", "role", "status", "createdByClinic", "joinedAt"],
  properties: {
    userId: { type: "string" },
    name: { type: "string" },
    username: { type: ["string", "null"] },
    email: { type: ["string", "null"] },
    role: { type: "string" },
    // active, password-change-required (an initial password not yet replaced) or disabled.
    status: { type: "string", enum: ["active", "password-change-required", "disabled"] },
    createdByClinic: { type: "boolean" },
    joinedAt: { type: "string", format: "date-time" },
  },
} as const;

const oneStaffMember = {
  type: "object",
  additionalProperties: false,
  required: ["staff"],
  properties: { staff: staffMember },
} as const;

function view(member: StaffMember) {
  const status = member.disabled ? "disabled" : member.mustChangePassword ? "password-change-required" : "active";
  return {
    userId: member.userId,
    name: member.name,
    username: member.username,
    email: member.email,
    role: member.role,
    status,
    createdByClinic: member.createdByClinic,
    joinedAt: member.joinedAt,
  };
}

function isOwner(role: string): boolean {
  return role.split(",").map((part) => part.trim()).includes(OWNER_ROLE);
}

const memberNotFound = () => new HttpError(404, ErrorCode.MEMBER_NOT_FOUND, "No such member in this clinic");
const ownerProtected = () =>
  new HttpError(
    409,
    ErrorCode.OWNER_ROLE_PROTECTED,
    "The owner is changed only by transferring ownership (POST /api/clinic/transfer-ownership)",
  );

const uniqueViolation = (error: unknown) => (error as { code?: string }).code === "23505";

export default async function staffRoutes(app: FastifyInstance) {
  app.post<{ Body: { name: string; username: string; password: string; role: string; email?: string } }>(
    "/staff",
    {
      config: { permission: manageStaff },
      schema: {
        body: {
          type: "object",
          additionalProperties: false,
          required: ["name", "username", "password", "role"],
          properties: {
            name: { type: "string", minLength: 1, maxLength: 200 },
            username: { type: "string", pattern: USERNAME_PATTERN },
            password,
            role: { type: "string", enum: [...staffAccountRoles] },
            email: { type: "string", format: "email", maxLength: 254 },
          },
        },
        response: { 201: oneStaffMember },
      },
    },
    async (request, reply) => {
      const { clinic, user: actor, settings } = request.clinicContext;
      const { name, username, role } = request.body;
      const email = request.body.email?.toLowerCase() ?? null;
      const passwordHash = await app.passwordHasher.hash(request.body.password);

      const created = await withTransaction(app.pg, async (client) => {
        const taken = await findTakenIdentifiers(client, username, email);
        if (taken.username) throw new HttpError(409, ErrorCode.USERNAME_TAKEN, "This username is taken");
        if (taken.email) throw new HttpError(409, ErrorCode.EMAIL_TAKEN, "An account with this email already exists");
        const userId = await insertStaffAccount(client, {
          clinicId: clinic.id,
          name,
          username,
          email,
          passwordHash,
          role,
          mustChangePassword: settings.staffMustChangePassword,
        });
        await recordAuditEvent(client, {
          clinicId: clinic.id,
          action: AuditAction.STAFF_CREATED,
          actorUserId: actor.id,
          targetUserId: userId,
          detail: { username: username.toLowerCase(), role },
          clientIp: request.ip,
        });
        const member = (await findStaffMember(client, clinic.id, userId))!;
        // Only a real address hears about the account; a made-up one gets nothing at all. Written
        // in this transaction: the account and its welcome email exist together, or neither does.
        if (email) {
          await app.enqueueEmail(
            {
              kind: "welcome",
              to: email,
              name,
              username: member.username ?? username,
              clinicName: clinic.name,
              url: `${app.config.frontendUrl}/sign-in`,
            },
            client,
          );
        }
        return member;
      }).catch((error: unknown) => {
        // Two requests for one username at once: the unique index decides.
        if (uniqueViolation(error)) throw new HttpError(409, ErrorCode.USERNAME_TAKEN, "This username or email is taken");
        // The welcome email could not be stored: nothing was created, the admin retries.
        if (error instanceof EmailNotStoredError) return undefined;
        throw error;
      });
      if (!created) return sendEmailNotStored(reply);

      return reply.status(201).send({ staff: view(created) });
    },
  );

  app.get(
    "/staff",
    {
      config: { permission: manageStaff },
      schema: {
        response: {
          200: {
            type: "object",
            additionalProperties: false,
            required: ["staff"],
            properties: { staff: { type: "array", items: staffMember } },
          },
        },
      },
    },
    async (request) => ({ staff: (await listStaff(app.pg, request.clinicContext.clinic.id)).map(view) }),
  );

  app.get(
    "/staff/providers",
    {
      schema: {
        response: {
          200: {
            type: "object",
            additionalProperties: false,
            required: ["providers"],
            properties: {
              providers: {
                type: "array",
                items: {
                  type: "object",
                  additionalProperties: false,
                  required: ["userId", "name", "role"],
                  properties: { userId: { type: "string" }, name: { type: "string" }, role: { type: "string" } },
                },
              },
            },
          },
        },
      },
    },
    async (request) => {
      const members = await listStaff(app.pg, request.clinicContext.clinic.id);
      const providers = members.filter(
        (member) => !member.disabled && grants(permissionsOf(member.role), providerPermission),
      );
      return { providers: providers.map(({ userId, name, role }) => ({ userId, name, role })) };
    },
  );

  app.patch<{ Params: { userId: string }; Body: { role: string } }>(
    "/staff/:userId",
    {
      config: { permission: manageStaff },
      schema: {
        params: userIdParams,
        body: {
          type: "object",
          additionalProperties: false,
          required: ["role"],
          properties: { role: { type: "string", enum: [...assignableRoles] } },
        },
        response: { 200: oneStaffMember },
      },
    },
    async (request) => {
      const { clinic, user: actor } = request.clinicContext;
      const { role } = request.body;
      const updated = await withTransaction(app.pg, async (client) => {
        const member = await findStaffMember(client, clinic.id, request.params.userId, { lock: true });
        if (!member) throw memberNotFound();
        if (isOwner(member.role)) throw ownerProtected();
        if (member.role === role) return member;
        await updateMemberRole(client, clinic.id, member.userId, role);
        await recordAuditEvent(client, {
          clinicId: clinic.id,
          action: AuditAction.ROLE_CHANGED,
          actorUserId: actor.id,
          targetUserId: member.userId,
          detail: { from: member.role, to: role },
          clientIp: request.ip,
        });
        return { ...member, role };
      });
      // Committed: no replica may keep answering with the old role.
      await app.sessions.invalidate(`user:${updated.userId}`);
      return { staff: view(updated) };
    },
  );

  app.post<{ Params: { userId: string }; Body: { password: string } }>(
    "/staff/:userId/password",
    {
      config: { permission: manageStaff },
      schema: {
        params: userIdParams,
        body: { type: "object", additionalProperties: false, required: ["password"], properties: { password } },
        response: { 200: oneStaffMember },
      },
    },
    async (request, reply) => {
      const { clinic, user: actor, settings } = request.clinicContext;
      const passwordHash = await app.passwordHasher.hash(request.body.password);
      const updated = await withTransaction(app.pg, async (client) => {
        const member = await findStaffMember(client, clinic.id, request.params.userId, { lock: true });
        if (!member) throw memberNotFound();
        // A person who joined by invitation owns their account: no clinic may set its password.
        if (!member.createdByClinic) {
          throw new HttpError(
            403,
            ErrorCode.NOT_A_CLINIC_ACCOUNT,
            "Only the password of an account this clinic created can be set; this person can reset their own",
          );
        }
        if (isOwner(member.role)) throw ownerProtected();
        await setPasswordHash(client, member.userId, passwordHash, settings.staffMustChangePassword);
        // Whoever held the old password is signed out everywhere, at once.
        await deleteAllSessions(client, member.userId);
        await recordAuditEvent(client, {
          clinicId: clinic.id,
          action: AuditAction.PASSWORD_SET_BY_ADMIN,
          actorUserId: actor.id,
          targetUserId: member.userId,
          clientIp: request.ip,
        });
        // The owner hears of it; the notice commits with the change.
        if (member.email) {
          await app.enqueueEmail(
            { kind: "password-changed", to: member.email, name: member.name, changedAt: new Date().toISOString() },
            client,
          );
        }
        return { ...member, mustChangePassword: settings.staffMustChangePassword };
      }).catch((error: unknown) => {
        // The notice could not be stored: the password was not changed, the admin retries.
        if (error instanceof EmailNotStoredError) return undefined;
        throw error;
      });
      if (!updated) return sendEmailNotStored(reply);
      await app.sessions.invalidate(`user:${updated.userId}`);
      return { staff: view(updated) };
    },
  );

  app.delete<{ Params: { userId: string } }>(
    "/staff/:userId",
    {
      config: { permission: manageStaff },
      schema: { params: userIdParams, response: { 204: { type: "null" } } },
    },
    async (request, reply) => {
      const { clinic, user: actor } = request.clinicContext;
      await withTransaction(app.pg, async (client) => {
        const member = await findStaffMember(client, clinic.id, request.params.userId, { lock: true });
        if (!member) throw memberNotFound();
        if (isOwner(member.role)) throw ownerProtected();
        await deleteMembership(client, clinic.id, member.userId);
        await endRemovedMemberAccess(client, member, clinic.id);
        await recordAuditEvent(client, {
          clinicId: clinic.id,
          action: AuditAction.MEMBER_REMOVED,
          actorUserId: actor.id,
          targetUserId: member.userId,
          detail: { role: member.role, disabled: member.createdByClinic },
          clientIp: request.ip,
        });
      });
      await app.sessions.invalidate(`user:${request.params.userId}`);
      return reply.status(204).send();
    },
  );
}
