import { LRUCache } from "lru-cache";
import type { Pool } from "pg";

/**
 * Who a session token belongs to, and in which clinic and role a user acts: the answers the hot
 * path (introspection, the /api guard) needs on every request. PostgreSQL is the source of truth;
 * answers are kept in process memory and dropped the moment any replica publishes a change
 * (see invalidation.ts). While that channel is down nothing is kept: every answer comes from
 * PostgreSQL, so a stale answer is never served.
 */

export interface SessionRecord {
  session: { id: string; token: string; userId: string; expiresAt: Date; activeOrganizationId: string | null };
  user: { id: string; name: string; email: string; username: string | null; emailVerified: boolean; mustChangePassword: boolean };
}

export interface ClinicMembership {
  clinic: { id: string; name: string; slug: string };
  role: string;
  /** The clinic's setting: must staff replace an admin-set password before using the data API? */
  staffMustChangePassword: boolean;
}

export interface DirectoryOptions {
  /** Upper bound on how long an answer is kept, should an invalidation ever be missed. */
  ttlMs: number;
  maxEntries: number;
}

type Entry = { kind: "session"; record: SessionRecord | null } | { kind: "membership"; userId: string; clinicId: string; membership: ClinicMembership | null };

export class SessionDirectory {
  private readonly cache: LRUCache<string, Entry>;
  /** Bumped by every invalidation: a database read that began before it must not be cached after it. */
  private epoch = 0;
  private caching = false;
  private readonly cachingAllowed: boolean;

  constructor(
    private readonly pool: Pool,
    options: DirectoryOptions,
  ) {
    this.cachingAllowed = options.ttlMs > 0;
    this.cache = new LRUCache<string, Entry>({ max: options.maxEntries, ttl: Math.max(options.ttlMs, 1) });
  }

  get isCaching(): boolean {
    return this.caching;
  }

  /** Start or stop keeping answers (the invalidation channel is up or down). Stopping forgets everything. */
  setCaching(enabled: boolean): void {
    if (!enabled) this.forgetAll();
    this.caching = enabled && this.cachingAllowed;
  }

  async findSession(token: string): Promise<SessionRecord | null> {
    const key = `s\n${token}`;
    const cached = this.cache.get(key);
    let record: SessionRecord | null;
    if (cached?.kind === "session") {
      record = cached.record;
    } else {
      const epoch = this.epoch;
      record = await this.loadSession(token);
      // A session's expiry bounds how long its answer may be kept.
      const ttl = record ? Math.max(0, record.session.expiresAt.getTime() - Date.now()) : undefined;
      if (this.caching && epoch === this.epoch && ttl !== 0) {
        this.cache.set(key, { kind: "session", record }, ttl === undefined ? undefined : { ttl: Math.min(ttl, this.cache.ttl) });
      }
    }
    if (record && record.session.expiresAt.getTime() <= Date.now()) return null;
    return record;
  }

  async findMembership(userId: string, clinicId: string): Promise<ClinicMembership | null> {
    const key = `m\n${userId}\n${clinicId}`;
    const cached = this.cache.get(key);
    if (cached?.kind === "membership") return cached.membership;
    const epoch = this.epoch;
    const membership = await this.loadMembership(userId, clinicId);
    if (this.caching && epoch === this.epoch) this.cache.set(key, { kind: "membership", userId, clinicId, membership });
    return membership;
  }

  forgetSession(sessionId: string): void {
    this.forget((entry) => entry.kind === "session" && entry.record?.session.id === sessionId);
  }

  forgetUser(userId: string): void {
    this.forget(
      (entry) => (entry.kind === "session" ? entry.record?.user.id === userId : entry.userId === userId),
    );
  }

  forgetClinic(clinicId: string): void {
    this.forget((entry) => entry.kind === "membership" && entry.clinicId === clinicId);
  }

  forgetAll(): void {
    this.epoch += 1;
    this.cache.clear();
  }

  // Invalidations are rare next to lookups: a scan of the (bounded) cache keeps lookups index-free.
  private forget(matches: (entry: Entry) => boolean): void {
    this.epoch += 1;
    for (const [key, entry] of this.cache.entries()) if (matches(entry)) this.cache.delete(key);
  }

  private async loadSession(token: string): Promise<SessionRecord | null> {
    const { rows } = await this.pool.query(
      `SELECT s."id", s."userId", s."expiresAt", s."activeOrganizationId",
              u."name", u."email", u."username", u."emailVerified", u."mustChangePassword"
         FROM "session" s JOIN "user" u ON u."id" = s."userId"
        -- A disabled account's sessions are worth nothing, wherever they are presented.
        WHERE s."token" = $1 AND u."disabled" IS NOT TRUE`,
      [token],
    );
    const row = rows[0];
    if (!row) return null;
    return {
      session: { id: row.id, token, userId: row.userId, expiresAt: new Date(row.expiresAt), activeOrganizationId: row.activeOrganizationId ?? null },
      user: {
        id: row.userId,
        name: row.name,
        email: row.email,
        username: row.username ?? null,
        emailVerified: row.emailVerified,
        mustChangePassword: row.mustChangePassword === true,
      },
    };
  }

  private async loadMembership(userId: string, clinicId: string): Promise<ClinicMembership | null> {
    const { rows } = await this.pool.query(
      `SELECT o."id", o."name", o."slug", m."role", o."staffMustChangePassword"
         FROM "member" m JOIN "organization" o ON o."id" = m."organizationId"
        WHERE m."userId" = $1 AND m."organizationId" = $2`,
      [userId, clinicId],
    );
    const row = rows[0];
    return row
      ? {
          clinic: { id: row.id, name: row.name, slug: row.slug },
          role: row.role,
          staffMustChangePassword: row.staffMustChangePassword !== false,
        }
      : null;
  }
}
