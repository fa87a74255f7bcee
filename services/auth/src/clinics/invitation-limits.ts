import fp from "fastify-plugin";
import { APIError } from "better-auth/api";
import { ErrorCode, errorCodes } from "@temetro/auth-client/errors";
import type { CounterStore } from "../sign-in/counter-store.js";
import { sharedOrLocalStore } from "../sign-in/rate-limit-store.js";

declare module "fastify" {
  interface FastifyInstance {
    /** Counts one email to a third party sent by `inviterId` for `clinicId`; 429 past the hourly limit. */
    countInvitation: CountInvitation;
  }
}

export type CountInvitation = (clinicId: string, inviterId: string) => Promise<void>;

const HOUR_MS = 3600 * 1000;

/**
 * Invitations (and welcome emails of staff accounts, which also go to someone else's mailbox) per
 * clinic and per inviter per hour, so that no clinic, and no account across clinics, can turn the
 * service into a mail cannon. Counted where the per-address rate limits are: in Redis, shared by
 * every replica, or in this replica's memory while Redis is away (sign-in/counter-store.ts).
 */
export function invitationLimiter(counters: CounterStore, perHour: number): CountInvitation {
  // The store ignores its options: each count below names its own window and maximum.
  const store = new (sharedOrLocalStore(counters))({});
  const count = (key: string) =>
    new Promise<{ current: number; ttl: number }>((resolve, reject) =>
      store.incr(key, (error, result) => (error || !result ? reject(error) : resolve(result)), HOUR_MS, perHour),
    );

  return async (clinicId, inviterId) => {
    const counts = await Promise.all([count(`invitations:clinic:${clinicId}`), count(`invitations:inviter:${inviterId}`)]);
    const exceeded = counts.filter((counted) => counted.current > perHour);
    if (exceeded.length === 0) return;
    const seconds = Math.max(1, Math.ceil(Math.max(...exceeded.map((counted) => counted.ttl)) / 1000));
    // Better Auth's own error type, so that its routes and /api (plugins/errors.ts) answer it alike, Retry-After included.
    throw new APIError(
      errorCodes.RATE_LIMITED.status as ConstructorParameters<typeof APIError>[0],
      { code: ErrorCode.RATE_LIMITED, message: `Too many invitations from this clinic or inviter: retry in ${seconds} seconds` },
      { "Retry-After": String(seconds) },
    );
  };
}

export default fp(
  async (app, options: { perHour: number }) => {
    app.decorate("countInvitation", invitationLimiter(app.limiterStore, options.perHour));
  },
  { name: "invitation-limits", dependencies: ["limiter-store"] },
);
