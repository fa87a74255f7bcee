import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import { Type } from "typebox";
import { manageStaff } from "../roles.js";
import { listAuditEvents } from "../audit.js";

const DEFAULT_PAGE = 50;
const MAX_PAGE = 200;

const AuditPage = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE })),
    // The `nextBefore` of the previous page.
    before: Type.Optional(Type.String({ pattern: "^[1-9][0-9]{0,17}$" })),
  },
  { additionalProperties: false },
);

const AuditEvents = Type.Object(
  {
    events: Type.Array(
      Type.Object(
        {
          id: Type.String(),
          action: Type.String(),
          actorUserId: Type.Union([Type.String(), Type.Null()]),
          targetUserId: Type.Union([Type.String(), Type.Null()]),
          detail: Type.Object({}, { additionalProperties: true }),
          clientIp: Type.Union([Type.String(), Type.Null()]),
          createdAt: Type.String({ format: "date-time" }),
        },
        { additionalProperties: false },
      ),
    ),
    nextBefore: Type.Union([Type.String(), Type.Null()]),
  },
  { additionalProperties: false },
);

/** GET /api/audit: the active clinic's security events, newest first, a page at a time. */
export default async function auditRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    "/audit",
    { config: { permission: manageStaff }, schema: { querystring: AuditPage, response: { 200: AuditEvents } } },
    async (request) => {
      const limit = request.query.limit ?? DEFAULT_PAGE;
      const events = await listAuditEvents(app.pg, request.clinicContext.clinic.id, { limit, before: request.query.before });
      return { events, nextBefore: events.length === limit ? events.at(-1)!.id : null };
    },
  );
}
