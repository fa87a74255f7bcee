import { createHash } from "node:crypto";
import { LRUCache } from "lru-cache";
import { AuthUnavailableError } from "./errors.js";
import type { Permissions } from "./roles.js";
import type { SessionAuth } from "./types.js";

export interface IntrospectionOptions {
  /** The auth service's `POST /internal/v1/introspect` URL, on its cluster-internal listener. */
  introspectionUrl: string;
  /** Sent as `Authorization: Bearer <internalToken>` when the auth service sets INTERNAL_TOKEN. */
  internalToken?: string | undefined;
  /**
   * How long an answer may be reused, in milliseconds: the explicit staleness bound. A sign-out,
   * revocation or role change is seen at most this late. 0 (the default): no cache, every request
   * asks the auth service.
   */
  cacheTtlMs?: number | undefined;
  /** At most this many cached answers (default 10000). */
  cacheMaxEntries?: number | undefined;
  /** Give up on the auth service after this long (default 2000 ms): the request gets a 503. */
  timeoutMs?: number | undefined;
}

/** The introspection endpoint's cap on the cookie it accepts; a larger header holds no session of ours. */
const MAX_COOKIE_LENGTH = 16384;

type Answer = SessionAuth | null;

export interface Introspector {
  /**
   * Who the Cookie header belongs to, or null. Throws AuthUnavailableError when nobody could answer.
   * `fresh`: ask the auth service now, whatever the cache holds (a live check).
   */
  fromCookie(cookie: string | undefined, options?: { fresh?: boolean }): Promise<Answer>;
}

export function createIntrospector(options: IntrospectionOptions): Introspector {
  const url = new URL(options.introspectionUrl);
  const ttl = options.cacheTtlMs ?? 0;
  const timeoutMs = options.timeoutMs ?? 2000;
  if (!Number.isFinite(ttl) || ttl < 0) throw new TypeError("cacheTtlMs must be a number >= 0");
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new TypeError("timeoutMs must be a number > 0");

  const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json" };
  if (options.internalToken) headers.authorization = `Bearer ${options.internalToken}`;

  // Keyed by a digest of the cookie: the cache never holds the credential itself. Only answers
  // are cached, never failures: an outage is retried by the next request.
  const cache =
    ttl > 0 ? new LRUCache<string, { answer: Answer }>({ max: options.cacheMaxEntries ?? 10_000, ttl, ttlAutopurge: false }) : undefined;

  async function ask(cookie: string): Promise<Answer> {
    let response: Response;
    try {
      response = await fetch(url, {
        method: "POST",
        headers,
        body: JSON.stringify({ cookie }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      throw new AuthUnavailableError(describeFetchError(error));
    }
    if (response.status !== 200) {
      // Read the body for the code only; it never echoes the cookie.
      const code = await response.json().then((body) => (body as { code?: unknown } | null)?.code, () => undefined);
      throw new AuthUnavailableError(`introspection answered ${response.status}${typeof code === "string" ? ` ${code}` : ""}`);
    }
    let body: unknown;
    try {
      body = await response.json();
    } catch {
      throw new AuthUnavailableError("introspection answered with invalid JSON");
    }
    return parseAnswer(body);
  }

  return {
    async fromCookie(cookie, { fresh = false } = {}) {
      if (!cookie || cookie.length > MAX_COOKIE_LENGTH) return null;
      if (!cache || fresh) return ask(cookie);

      const key = createHash("sha256").update(cookie).digest("base64url");
      const cached = cache.get(key);
      if (cached) return cached.answer;
      // The answer describes the session as it was when the question left: its age counts from then.
      const askedAt = performance.now();
      const answer = await ask(cookie);
      const remaining = ttl - (performance.now() - askedAt);
      if (remaining >= 1) cache.set(key, { answer }, { ttl: Math.floor(remaining) });
      return answer;
    },
  };
}

function describeFetchError(error: unknown): string {
  const err = error as { name?: string; cause?: { code?: string } } | null;
  if (err?.name === "TimeoutError") return "introspection timed out";
  return `introspection request failed${err?.cause?.code ? ` (${err.cause.code})` : ""}`;
}

const isString = (value: unknown): value is string => typeof value === "string";

/** Checks the answer's shape rather than trusting it: a malformed answer is an outage, not a user. */
function parseAnswer(body: unknown): Answer {
  const answer = body as Record<string, unknown> | null;
  if (answer?.active === false) return null;
  const user = answer?.user as Record<string, unknown> | undefined;
  const session = answer?.session as Record<string, unknown> | undefined;
  const clinic = answer?.clinic as Record<string, unknown> | null | undefined;
  const valid =
    answer?.active === true &&
    isString(user?.id) &&
    isString(session?.id) &&
    isString(session?.expiresAt) &&
    (clinic === null || (isString(clinic?.id) && isString(clinic?.role) && typeof clinic?.permissions === "object" && clinic.permissions !== null));
  if (!valid || !user || !session) throw new AuthUnavailableError("introspection answered an unexpected shape");
  return {
    via: "session",
    user: {
      id: user.id as string,
      name: isString(user.name) ? user.name : "",
      email: isString(user.email) ? user.email : null,
      username: isString(user.username) ? user.username : null,
      emailVerified: user.emailVerified === true,
      mustChangePassword: user.mustChangePassword === true,
    },
    session: { id: session.id as string, expiresAt: session.expiresAt as string },
    clinic: clinic
      ? {
          id: clinic.id as string,
          slug: isString(clinic.slug) ? clinic.slug : "",
          name: isString(clinic.name) ? clinic.name : "",
          role: clinic.role as string,
          permissions: clinic.permissions as Permissions,
        }
      : null,
  };
}
