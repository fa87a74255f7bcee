import fp from "fastify-plugin";
import { LRUCache } from "lru-cache";
import type { Config } from "../config.js";
import { sessionCookieValue, tokenOfSignedValue } from "./cookie.js";
import { SessionDirectory, type ClinicMembership, type SessionAccess, type SessionRecord } from "./directory.js";
import { sessionLifetime } from "./lifetime.js";
import { InvalidationChannel, type Invalidation } from "./invalidation.js";
import { observeSessionCache } from "../plugins/metrics.js";

export interface Sessions {
  /**
   * The session a Cookie header carries (signature checked), or null; one that has ended is deleted.
   * A `use` (the default) is recorded as the session's activity; a `look` is not.
   */
  fromCookie(cookieHeader: string | undefined, access?: SessionAccess): Promise<SessionRecord | null>;
  /** The session of a raw session token, or null (as fromCookie). */
  fromToken(token: string, access?: SessionAccess): Promise<SessionRecord | null>;
  /** The session token a Cookie header carries (signature checked), or null. */
  tokenOf(cookieHeader: string | undefined): string | null;
  membership(userId: string, clinicId: string): Promise<ClinicMembership | null>;
  /** Something changed in PostgreSQL: this replica forgets at once (every replica hears of it from the log's triggers). */
  invalidate(message: Invalidation): Promise<void>;
  cookieName: string;
  directory: SessionDirectory;
  invalidations: InvalidationChannel;
}

declare module "fastify" {
  interface FastifyInstance {
    sessions: Sessions;
  }
}

/**
 * Memory bounds, in bytes, of what this plugin keeps (the manifests give a replica 512 Mi): the
 * session directory's answers, and the signed cookie values already verified.
 */
export const SESSION_DIRECTORY_MAX_BYTES = 32 * 1024 * 1024;
export const VERIFIED_COOKIES_MAX_BYTES = 4 * 1024 * 1024;
/** A real session cookie value is about 100 characters; anything much longer is not kept. */
const LONGEST_KEPT_COOKIE_VALUE = 512;

/** Better Auth's session cookie name: `__Secure-` prefixed when the service is served over https. */
export function sessionCookieName(betterAuthUrl: string): string {
  return `${betterAuthUrl.startsWith("https://") ? "__Secure-" : ""}better-auth.session_token`;
}

export default fp(
  async (app, options: { config: Config }) => {
    const { config } = options;
    const ttlSeconds = config.sessionCacheTtlSeconds;
    const directory = new SessionDirectory(app.pg, {
      ttlMs: ttlSeconds * 1000,
      maxBytes: SESSION_DIRECTORY_MAX_BYTES,
      lifetime: sessionLifetime(config.sessionLifetime),
    });
    // Log rows are kept longer than any cached answer lives, with a margin.
    const invalidations = new InvalidationChannel(config.listenDatabaseUrl, directory, app.log, Math.max(ttlSeconds, 60) + 60);
    const cookieName = sessionCookieName(config.betterAuthUrl);

    // A signed cookie value whose signature verified once keeps verifying (the secret does not
    // change while the process runs): remember the token it carries and skip the HMAC next time.
    // Keyed by the session cookie's own value, never the whole Cookie header (whose other cookies
    // a client may vary at will), and bounded in bytes.
    const verifiedCookies = new LRUCache<string, string>({
      maxSize: VERIFIED_COOKIES_MAX_BYTES,
      sizeCalculation: (token, cookieValue) => 200 + 2 * (cookieValue.length + token.length),
    });
    const tokenOf = (cookieHeader: string | undefined): string | null => {
      const raw = sessionCookieValue(cookieHeader, cookieName);
      if (!raw) return null;
      const known = verifiedCookies.get(raw);
      if (known) return known;
      const token = tokenOfSignedValue(raw, config.betterAuthSecret);
      if (token && raw.length <= LONGEST_KEPT_COOKIE_VALUE) verifiedCookies.set(raw, token);
      return token;
    };

    app.decorate("sessions", {
      fromCookie: async (cookieHeader, access) => {
        const token = tokenOf(cookieHeader);
        return token ? directory.findSession(token, access) : null;
      },
      fromToken: (token, access) => directory.findSession(token, access),
      tokenOf,
      membership: (userId, clinicId) => directory.findMembership(userId, clinicId),
      invalidate: (message) => invalidations.publish(message),
      cookieName,
      directory,
      invalidations,
    } satisfies Sessions);

    observeSessionCache(app.metrics.registry, {
      caching: () => directory.isCaching,
      bytes: () => directory.footprint.bytes + verifiedCookies.calculatedSize,
      invalidations: invalidations.status,
    });

    app.addHook("onClose", async () => {
      await invalidations.close();
    });
  },
  { name: "sessions", dependencies: ["db", "metrics"] },
);
