import { randomUUID } from "node:crypto";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import { Type } from "typebox";
import { CLIENT_IP_HEADER } from "./options.js";
import { findUserByUsername, isPlaceholderEmail, PLACEHOLDER_EMAIL_DOMAIN } from "../clinics/staff-store.js";
import { EmailNotStoredError, sendEmailNotStored } from "../email/plugin.js";

/**
 * Public helpers beside Better Auth's routes. POST /api/auth-helpers/reset-by-username: a staff
 * member who knows only their username asks for a reset email. The answer is `{ ok: true }`
 * whatever the username, and the work is the same either way: Better Auth's own
 * request-password-reset runs for the account's address, or for an address no account has (its
 * unknown-account path imitates the known one), and one outbox write is awaited either way: the
 * reset email, or a decoy row (email/plugin.ts). When that write fails: 503, retry later.
 * Rate limited with the other resets, keyed on this path (sign-in/rate-limits.ts, issue 4).
 */
const ResetByUsernameBody = Type.Object(
  { username: Type.String({ minLength: 1, maxLength: 64 }) },
  { additionalProperties: false },
);

/** The same answer whatever the username. */
const ResetRequested = Type.Object({ ok: Type.Boolean() }, { additionalProperties: false });

export default async function authHelperRoutes(app: FastifyInstance) {
  app.withTypeProvider<TypeBoxTypeProvider>().post(
    "/reset-by-username",
    { schema: { body: ResetByUsernameBody, response: { 200: ResetRequested } } },
    async (request, reply) => {
      const startedAt = app.evenTiming.start();
      const user = await findUserByUsername(app.pg, request.body.username);
      // An account without a real address has nowhere to receive a link: treated as unknown.
      const email =
        user && !isPlaceholderEmail(user.email) ? user.email : `nobody-${randomUUID()}@${PLACEHOLDER_EMAIL_DOMAIN}`;
      try {
        await app.withEmailsStored(
          () =>
            app.auth.api.requestPasswordReset({
              body: { email, redirectTo: `${app.config.frontendUrl}/reset-password` },
              headers: new Headers({ [CLIENT_IP_HEADER]: request.ip }),
            }),
          { decoy: true },
        );
      } catch (error) {
        if (error instanceof EmailNotStoredError) return sendEmailNotStored(reply);
        throw error;
      }
      await app.evenTiming.hold("reset-request", startedAt);
      return { ok: true };
    },
  );
}
