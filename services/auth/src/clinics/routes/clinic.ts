import type { FastifyInstance } from "fastify";

const clinicResponse = {
  type: "object",
  required: ["clinic", "role", "permissions"],
  additionalProperties: false,
  properties: {
    clinic: {
      type: "object",
      additionalProperties: false,
      required: ["id", "name", "slug"],
      properties: { id: { type: "string" }, name: { type: "string" }, slug: { type: "string" } },
    },
    role: { type: "string" },
    permissions: {
      type: "object",
      additionalProperties: { type: "array", items: { type: "string" } },
    },
  },
} as const;

/** GET /api/clinic: the active clinic, the caller's role in it and what that role may do. */
export default async function clinicRoutes(app: FastifyInstance) {
  app.get("/clinic", { schema: { response: { 200: clinicResponse } } }, async (request) => {
    const { clinic, role, permissions } = request.clinicContext;
    return { clinic, role, permissions };
  });
}
