import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import { Type } from "typebox";

const ActiveClinic = Type.Object(
  {
    clinic: Type.Object({ id: Type.String(), name: Type.String(), slug: Type.String() }, { additionalProperties: false }),
    role: Type.String(),
    permissions: Type.Object({}, { additionalProperties: Type.Array(Type.String()) }),
  },
  { additionalProperties: false },
);

/** GET /api/clinic: the active clinic, the caller's role in it and what that role may do. */
export default async function clinicRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.get("/clinic", { schema: { response: { 200: ActiveClinic } } }, async (request) => {
    const { clinic, role, permissions } = request.clinicContext;
    return { clinic, role, permissions };
  });
}
