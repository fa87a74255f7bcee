import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { permissionsOf } from "../clinics/roles.js";
import { ErrorCode, HttpError } from "../errors.js";
import type { ClinicMembership, SessionRecord } from "./directory.js";

const introspectBody = {
  type: "object",
  additionalProperties: false,
  minProperties: 1,
  properties: {
    /** The caller's incoming Cookie header, as received. */
    cookie: { type: "string", maxLength: 16384 },
    /** A raw session token (the `token` of a sign-in response). */
    token: { type: "string", minLength: 1, maxLength: 512 },
  },
} as const;

const stringMap = { type: "object", additionalProperties: { type: "array", items: { type: "string" } } } as const;

const introspectResponse = {
  type: "object",
  required: ["active"],
  properties: {
    active: { type: "boolean" },
    user: {
      type: "object",
      properties: {
        id: { type: "string" },
        name: { type: "string" },
        email: { type: "string" },
        username: { type: ["string", "null"] },
        emailVerified: { type: "boolean" },
        /** An admin-set initial password is still to be replaced: data endpoints refuse until it is. */
        mustChangePassword: { type: "boolean" },
      },
    },
    session: {
      type: "object",
      properties: { id: { type: "string" }, expiresAt: { type: "string", format: "date-time" } },
    },
    clinic: {
      type: ["object", "null"],
      properties: {
        id: { type: "string" },
        slug: { type: "string" },
        name: { type: "string" },
        role: { type: "string" },
        permissions: stringMap,
      },
    },
  },
} as const;

/**
 * POST /internal/v1/introspect: who a request to another temetro service belongs to. Reads the
 * session directory, so a sign-out, revocation, removal or role change shows at once everywhere.
 */
export default async function introspectRoutes(internal: FastifyInstance, options: { app: FastifyInstance }) {
  const { app } = options;
  const expectedToken = app.config.internalToken ? digest(app.config.internalToken) : undefined;

  const requireCallerToken = async (request: FastifyRequest) => {
    if (!expectedToken) return;
    const header = request.headers.authorization;
    const presented = header?.startsWith("Bearer ") ? header.slice(7) : undefined;
    // Compare digests: constant time, whatever the lengths.
    if (!presented || !timingSafeEqual(digest(presented), expectedToken)) {
      throw new HttpError(401, ErrorCode.INTERNAL_TOKEN_REQUIRED, "Present the internal token: Authorization: Bearer <INTERNAL_TOKEN>");
    }
  };

  internal.post<{ Body: { cookie?: string; token?: string } }>(
    "/internal/v1/introspect",
    { onRequest: requireCallerToken, schema: { body: introspectBody, response: { 200: introspectResponse } } },
    async (request, reply) => {
      const { cookie, token } = request.body;
      const found = token ? await app.sessions.fromToken(token) : await app.sessions.fromCookie(cookie);
      reply.type("application/json; charset=utf-8");
      if (!found) return reply.send(INACTIVE);

      const clinicId = found.session.activeOrganizationId;
      const membership = clinicId ? await app.sessions.membership(found.user.id, clinicId) : null;
      // The directory hands out the same objects until something about them changes, so the
      // answer built from them can be kept with them: the hot path serialises nothing.
      const kept = answers.get(found);
      if (kept && kept.membership === membership) return reply.send(kept.body);

      const body = reply.serialize({
        active: true,
        user: {
          id: found.user.id,
          name: found.user.name,
          email: found.user.email,
          username: found.user.username,
          emailVerified: found.user.emailVerified,
          mustChangePassword: found.user.mustChangePassword && (membership?.staffMustChangePassword ?? true),
        },
        session: { id: found.session.id, expiresAt: found.session.expiresAt.toISOString() },
        clinic: membership
          ? { ...membership.clinic, role: membership.role, permissions: permissionsOf(membership.role) }
          : null,
      }) as string;
      answers.set(found, { membership, body });
      return reply.send(body);
    },
  );
}

const INACTIVE = JSON.stringify({ active: false });

/** Serialised answers, held by the directory's session records they were built from. */
const answers = new WeakMap<SessionRecord, { membership: ClinicMembership | null; body: string }>();

function digest(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}
