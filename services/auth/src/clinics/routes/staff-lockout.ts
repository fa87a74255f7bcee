import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import { Type } from "typebox";
import { ErrorCode, HttpError } from "../../errors.js";
import { accountLockoutKey } from "../../sign-in/lockout.js";
import { AuditAction, recordAuditEvent } from "../audit.js";
import { accountClaimed } from "../refusals.js";
import { findStaffMember } from "../staff-store.js";

const LockedMember = Type.Object(
  { userId: Type.String({ minLength: 1, maxLength: 64, pattern: "^[A-Za-z0-9_-]+$" }) },
  { additionalProperties: false },
);

/**
 * DELETE /api/staff/:userId/lockout: an owner or admin (whoever may update members) lifts the
 * sign-in lockout of a member of their active clinic (one for the member's email and username).
 * Answers 204 whether or not a lockout was in force, 404 for anyone outside the clinic, and 403
 * ACCOUNT_CLAIMED (audited) for an account its owner claimed or another clinic shares: no clinic
 * weakens the guessing protection of an account someone uses elsewhere.
 */
export default async function staffLockoutRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.delete(
    "/staff/:userId/lockout",
    { schema: { params: LockedMember }, config: { permission: { member: ["update"] } } },
    async (request, reply) => {
      const { clinic, user: actor } = request.clinicContext;
      const member = await findStaffMember(app.pg, clinic.id, request.params.userId);
      if (!member) throw new HttpError(404, ErrorCode.NOT_FOUND, "No such member in the active clinic");
      if (member.accountClaimed) {
        await recordAuditEvent(app.pg, {
          clinicId: clinic.id,
          action: AuditAction.LOCKOUT_LIFT_REFUSED,
          actorUserId: actor.id,
          clientIp: request.ip,
          targetUserId: member.userId,
          detail: { code: ErrorCode.ACCOUNT_CLAIMED },
        });
        throw accountClaimed();
      }

      await app.accountLockout.clear(accountLockoutKey(member.userId));
      request.log.info(
        { securityEvent: "lockout-lifted", userId: request.params.userId, by: actor.id, clinicId: clinic.id },
        "sign-in lockout lifted by a clinic admin",
      );
      return reply.status(204).send();
    },
  );
}
