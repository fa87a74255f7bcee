import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { Type, type Static } from "typebox";
import { bearerTokenCheck } from "@temetro/shared";
import { mustReplaceInitialPassword } from "../clinics/initial-password.js";
import { permissionsOf } from "../clinics/roles.js";
import { ErrorCode, HttpError } from "../errors.js";
import type { ClinicMembership, SessionRecord } from "./directory.js";
import { shownAddress } from "../clinics/placeholder-addresses.js";

const IntrospectBody = Type.Object(
  {
    /** The caller's incoming Cookie header, as received. */
    cookie: Type.Optional(Type.String({ maxLength: 16384 })),
    /** A raw session token (the `token` of a sign-in response). */
    token: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
  },
  { additionalProperties: false, minProperties: 1 },
);

const IntrospectAnswer = Type.Object({
  active: Type.Boolean(),
  user: Type.Optional(
    Type.Object({
      id: Type.String(),
      name: Type.String(),
      /** null: a staff account without an address. */
      email: Type.Union([Type.String(), Type.Null()]),
      username: Type.Union([Type.String(), Type.Null()]),
      emailVerified: Type.Boolean(),
      /** An admin-set initial password is still to be replaced: data endpoints refuse until it is. */
      mustChangePassword: Type.Boolean(),
    }),
  ),
  session: Type.Optional(Type.Object({ id: Type.String(), expiresAt: Type.String({ format: "date-time" }) })),
  clinic: Type.Optional(
    Type.Union([
      Type.Object({
        id: Type.String(),
        slug: Type.String(),
        name: Type.String(),
        role: Type.String(),
        permissions: Type.Record(Type.String(), Type.Immutable(Type.Array(Type.String()))),
      }),
      Type.Null(),
    ]),
  ),
});

/**
 * POST /internal/v1/introspect: who a request to another temetro service belongs to. Reads the
 * session directory, so a sign-out, revocation, removal or role change shows at once everywhere.
 */
export default async function introspectRoutes(internal: FastifyInstance, options: { app: FastifyInstance }) {
  const { app } = options;
  const presentsToken = app.config.internalToken ? bearerTokenCheck(app.config.internalToken) : undefined;

  const requireCallerToken = async (request: FastifyRequest) => {
    if (presentsToken && !presentsToken(request.headers.authorization)) throw new HttpError(ErrorCode.INTERNAL_TOKEN_REQUIRED);
  };

  internal.withTypeProvider<TypeBoxTypeProvider>().post(
    "/internal/v1/introspect",
    { onRequest: requireCallerToken, schema: { body: IntrospectBody, response: { 200: IntrospectAnswer } } },
    async (request, reply) => {
      const { cookie, token } = request.body;
      const found = token ? await app.sessions.fromToken(token) : await app.sessions.fromCookie(cookie);
      if (!found) return sendSerialized(reply, INACTIVE);

      const clinicId = found.session.activeOrganizationId;
      const membership = clinicId ? await app.sessions.membership(found.user.id, clinicId) : null;
      // The directory hands out the same objects until something about them changes, so the
      // answer built from them can be kept with them: the hot path serialises nothing.
      const kept = answers.get(found);
      if (kept && kept.membership === membership) return sendSerialized(reply, kept.body);

      const answer: Static<typeof IntrospectAnswer> = {
        active: true,
        user: {
          id: found.user.id,
          name: found.user.name,
          email: shownAddress(found.user.email),
          username: found.user.username,
          emailVerified: found.user.emailVerified,
          mustChangePassword: mustReplaceInitialPassword(found.user, membership),
        },
        session: { id: found.session.id, expiresAt: found.session.expiresAt.toISOString() },
        clinic: membership
          ? { ...membership.clinic, role: membership.role, permissions: permissionsOf(membership.role) }
          : null,
      };
      const body = reply.serialize(answer) as string;
      answers.set(found, { membership, body });
      return sendSerialized(reply, body);
    },
  );
}

const INACTIVE = JSON.stringify({ active: false });

/** Serialised answers, held by the directory's session records they were built from. */
const answers = new WeakMap<SessionRecord, { membership: ClinicMembership | null; body: string }>();

/** Sends an answer already serialised by the route's schema (a string is sent as it is). */
function sendSerialized(reply: FastifyReply, json: string) {
  return reply.type("application/json; charset=utf-8").send(json);
}
