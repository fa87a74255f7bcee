import fp from "fastify-plugin";
import { LRUCache } from "lru-cache";
import type { Config } from "@temetro/shared";
import { sessionTokenFromCookie } from "../sessions/cookie.js";
import { SessionDirectory, type ClinicMembership, type SessionRecord } from "../sessions/directory.js";
import { InvalidationBus, type Invalidation } from "../sessions/invalidation.js";

export interface Sessions {
  /** The session a Cookie header carries (signature checked), or null. */
  fromCookie(cookieHeader: string | undefined): Promise<SessionRecord | null>;
  /** The session of a raw session token, or null. */
  fromToken(token: string): Promise<SessionRecord | null>;
  membership(userId: string, clinicId: string): Promise<ClinicMembership | null>;
  /** Something changed in PostgreSQL: every replica forgets what it kept about it. */
  invalidate(message: Invalidation): Promise<void>;
  cookieName: string;
  directory: SessionDirectory;
}

declare module "fastify" {
  interface FastifyInstance {
    sessions: Sessions;
  }
}

/** Better Auth's session cookie name: `__Secure-` prefixed when the service is served over https. */
export function sessionCookieName(betterAuthUrl: string): string {
  return `${betterAuthUrl.startsWith("https://") ? "__Secure-" : ""}better-auth.session_token`;
}

export default fp(
  async (app, options: { config: Config }) => {
    const { config } = options;
    const directory = new SessionDirectory(app.pg, { ttlMs: config.sessionCacheTtlSeconds * 1000, maxEntries: 50_000 });
    const bus = new InvalidationBus(config.redisUrl, `${config.redisPrefix}:session-invalidation`, directory, app.log);
    const cookieName = sessionCookieName(config.betterAuthUrl);

    // A Cookie header whose signature verified once keeps verifying (the secret does not change
    // while the process runs): remember the token it carries and skip the HMAC next time.
    const verifiedCookies = new LRUCache<string, string>({ max: 50_000 });
    const tokenOf = (cookieHeader: string | undefined): string | null => {
      if (!cookieHeader) return null;
      const known = verifiedCookies.get(cookieHeader);
      if (known) return known;
      const token = sessionTokenFromCookie(cookieHeader, cookieName, config.betterAuthSecret);
      if (token) verifiedCookies.set(cookieHeader, token);
      return token;
    };

    app.decorate("sessions", {
      fromCookie: async (cookieHeader) => {
        const token = tokenOf(cookieHeader);
        return token ? directory.findSession(token) : null;
      },
      fromToken: (token) => directory.findSession(token),
      membership: (userId, clinicId) => directory.findMembership(userId, clinicId),
      invalidate: (message) => bus.publish(message),
      cookieName,
      directory,
    } satisfies Sessions);

    app.addHook("onClose", async () => {
      await bus.close();
    });
  },
  { name: "sessions", dependencies: ["db"] },
);
