import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import { Type } from "typebox";
import { transferOwnership as transferOwnershipPermission } from "../roles.js";
import { transferOwnership } from "../membership.js";
import { actorOf, membershipDeps } from "./entrance.js";
import { MemberUserIdParams } from "./schemas.js";

const TransferResult = Type.Object(
  { ownerUserId: Type.String(), previousOwnerRole: Type.String() },
  { additionalProperties: false },
);

/** POST /api/clinic/transfer-ownership: the only way ownership moves (clinics/membership.ts). */
export default async function ownershipRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const deps = membershipDeps(fastify);
  app.post(
    "/clinic/transfer-ownership",
    { config: { permission: transferOwnershipPermission }, schema: { body: MemberUserIdParams, response: { 200: TransferResult } } },
    async (request) => transferOwnership(deps, actorOf(request), request.clinicContext.clinic.id, request.body.userId),
  );
}
