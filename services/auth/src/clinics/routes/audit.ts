import type { FastifyInstance } from "fastify";
import { manageStaff } from "../roles.js";
import { listAuditEvents } from "../audit.js";

const DEFAULT_PAGE = 50;
const MAX_PAGE = 200;

/** GET /api/audit: the active clinic's security events, newest first, a page at a time. */
export default async function auditRoutes(app: FastifyInstance) {
  app.get<{ Querystring: { limit?: number; before?: string } }>(
    "/audit",
    {
      config: { permission: manageStaff },
      schema: {
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: {
            limit: { type: "integer", minimum: 1, maximum: MAX_PAGE },
            // The `nextBefore` of the previous page.
            before: { type: "string", pattern: "^[1-9][0-9]{0,17}$" },
          },
        },
        response: {
          200: {
            type: "object",
            additionalProperties: false,
            required: ["events", "nextBefore"],
            properties: {
              events: {
                type: "array",
                items: {
                  type: "object",
                  additionalProperties: false,
                  required: ["id", "action", "actorUserId", "targetUserId", "detail", "clientIp", "createdAt"],
                  properties: {
                    id: { type: "string" },
                    action: { type: "string" },
                    actorUserId: { type: ["string", "null"] },
                    targetUserId: { type: ["string", "null"] },
                    detail: { type: "object", additionalProperties: true },
                    clientIp: { type: ["string", "null"] },
                    createdAt: { type: "string", format: "date-time" },
                  },
                },
              },
              nextBefore: { type: ["string", "null"] },
            },
          },
        },
      },
    },
    async (request) => {
      const limit = request.query.limit ?? DEFAULT_PAGE;
      const events = await listAuditEvents(app.pg, request.clinicContext.clinic.id, { limit, before: request.query.before });
      return { events, nextBefore: events.length === limit ? events.at(-1)!.id : null };
    },
  );
}
