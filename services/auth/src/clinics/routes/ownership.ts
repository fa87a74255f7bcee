import type { FastifyInstance } from "fastify";
import { OWNER_ROLE, transferOwnership } from "../roles.js";
import { AuditAction, recordAuditEvent } from "../audit.js";
import { findStaffMember, updateMemberRole } from "../staff-store.js";
import { withTransaction } from "../../db/transaction.js";
import { ErrorCode, HttpError } from "../../errors.js";

/** The role a former owner keeps: they still run the clinic, without owning it. */
const FORMER_OWNER_ROLE = "admin";

/**
 * POST /api/clinic/transfer-ownership: the only way ownership moves. The owner hands it to another
 * member and becomes an admin, in one transaction, so the clinic has an owner at every moment.
 */
export default async function ownershipRoutes(app: FastifyInstance) {
  app.post<{ Body: { userId: string } }>(
    "/clinic/transfer-ownership",
    {
      config: { permission: transferOwnership },
      schema: {
        body: {
          type: "object",
          additionalProperties: false,
          required: ["userId"],
          properties: { userId: { type: "string", minLength: 1, maxLength: 128 } },
        },
        response: {
          200: {
            type: "object",
            additionalProperties: false,
            required: ["ownerUserId", "previousOwnerRole"],
            properties: { ownerUserId: { type: "string" }, previousOwnerRole: { type: "string" } },
          },
        },
      },
    },
    async (request) => {
      const { clinic, user: actor } = request.clinicContext;
      const targetId = request.body.userId;
      if (targetId === actor.id) throw new HttpError(400, ErrorCode.BAD_REQUEST, "You already own this clinic");
      await withTransaction(app.pg, async (client) => {
        const current = await findStaffMember(client, clinic.id, actor.id, { lock: true });
        // The permission is the owner's alone, but the role may have changed since the guard read it.
        if (current?.role !== OWNER_ROLE) throw new HttpError(403, ErrorCode.FORBIDDEN, "Only the owner can transfer ownership");
        const target = await findStaffMember(client, clinic.id, targetId, { lock: true });
        if (!target) throw new HttpError(404, ErrorCode.MEMBER_NOT_FOUND, "No such member in this clinic");
        if (target.disabled) throw new HttpError(409, ErrorCode.CONFLICT, "A disabled account cannot own the clinic");
        await updateMemberRole(client, clinic.id, target.userId, OWNER_ROLE);
        await updateMemberRole(client, clinic.id, actor.id, FORMER_OWNER_ROLE);
        await recordAuditEvent(client, {
          clinicId: clinic.id,
          action: AuditAction.OWNERSHIP_TRANSFERRED,
          actorUserId: actor.id,
          targetUserId: target.userId,
          detail: { previousOwnerRole: FORMER_OWNER_ROLE, targetPreviousRole: target.role },
          clientIp: request.ip,
        });
      });
      await app.sessions.invalidate(`user:${targetId}`);
      await app.sessions.invalidate(`user:${actor.id}`);
      return { ownerUserId: targetId, previousOwnerRole: FORMER_OWNER_ROLE };
    },
  );
}
