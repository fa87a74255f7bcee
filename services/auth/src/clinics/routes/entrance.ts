import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { EmailNotStoredError, sendEmailNotStored } from "../../email/plugin.js";
import type { Actor } from "../membership.js";
import type { StaffAccountDeps, StaffClinic } from "../staff-accounts.js";

/** The /api routes as an entrance to clinics/membership.ts: what they hand every operation. */

export function membershipDeps(app: FastifyInstance): StaffAccountDeps {
  return {
    pool: app.pg,
    announce: app.sessions.invalidate,
    passwordHasher: app.passwordHasher,
    enqueueEmail: app.enqueueEmail,
    frontendUrl: app.config.frontendUrl,
  };
}

/** The signed-in admin and the address Fastify trusts: what the audit row records. */
export function actorOf(request: FastifyRequest): Actor & { userId: string } {
  return { userId: request.clinicContext.user.id, clientIp: request.ip };
}

export function clinicOf(request: FastifyRequest): StaffClinic {
  const { clinic, settings } = request.clinicContext;
  return { id: clinic.id, name: clinic.name, staffMustChangePassword: settings.staffMustChangePassword };
}

/**
 * Runs a change whose email is stored in its transaction. When the email cannot be stored nothing
 * was changed: the answer is 503 and the admin retries.
 */
export async function answerUnlessEmailNotStored<T, A>(
  reply: FastifyReply,
  change: () => Promise<T>,
  answer: (value: T) => A,
): Promise<A | undefined> {
  try {
    return answer(await change());
  } catch (error) {
    if (!(error instanceof EmailNotStoredError)) throw error;
    await sendEmailNotStored(reply);
    return undefined;
  }
}
