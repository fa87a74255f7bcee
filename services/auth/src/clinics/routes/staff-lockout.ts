import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import { Type } from "typebox";
import { ErrorCode, HttpError } from "../../errors.js";
import { lockoutKey } from "../../sign-in/lockout.js";

const LockedMember = Type.Object(
  { userId: Type.String({ minLength: 1, maxLength: 64, pattern: "^[A-Za-z0-9_-]+$" }) },
  { additionalProperties: false },
);

/**
 * DELETE /api/staff/:userId/lockout: an owner or admin (whoever may update members) lifts the
 * sign-in lockout of a member of their active clinic, for both the member's email and username.
 * Answers 204 whether or not a lockout was in force, 404 for anyone outside the clinic.
 */
export default async function staffLockoutRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.delete(
    "/staff/:userId/lockout",
    { schema: { params: LockedMember }, config: { permission: { member: ["update"] } } },
    async (request, reply) => {
      const { clinic, user: actor } = request.clinicContext;
      const { rows } = await app.pg.query<{ email: string; username: string | null }>(
        `SELECT u."email", u."username"
           FROM "member" m JOIN "user" u ON u."id" = m."userId"
          WHERE m."userId" = $1 AND m."organizationId" = $2`,
        [request.params.userId, clinic.id],
      );
      const member = rows[0];
      if (!member) throw new HttpError(404, ErrorCode.NOT_FOUND, "No such member in the active clinic");

      await app.accountLockout.clear(lockoutKey({ kind: "email", value: member.email.toLowerCase() }));
      if (member.username) await app.accountLockout.clear(lockoutKey({ kind: "username", value: member.username.toLowerCase() }));
      request.log.info(
        { securityEvent: "lockout-lifted", userId: request.params.userId, by: actor.id, clinicId: clinic.id },
        "sign-in lockout lifted by a clinic admin",
      );
      return reply.status(204).send();
    },
  );
}
