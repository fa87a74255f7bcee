import { LRUCache } from "lru-cache";
import type { Pool } from "pg";
import { absoluteEnd, isUseWorthRecording, sessionEnd, type SessionLifetime } from "./lifetime.js";

/**
 * Who a session token belongs to, and in which clinic and role a user acts: the answers the hot
 * path (introspection, the /api guard) needs on every request. PostgreSQL is the source of truth;
 * answers are kept in process memory only while this replica can prove it hears of every change
 * (see invalidation.ts: `renewCaching` is called after each successful catch-up with the
 * invalidation log, and lapses by itself when the next one does not come), and dropped the moment
 * a change is announced. While that proof is missing nothing is kept or served from memory: every
 * answer comes from PostgreSQL, so a stale answer is never served.
 *
 * Memory is bounded in bytes, not entries: a token or a name is charged for its length, so
 * oversized input cannot grow the cache past `maxBytes`.
 *
 * Every entrance asks here, so this is where sessions end (lifetime.ts): a session past its idle
 * or absolute end is deleted when it is presented (Better Auth, asked next, then finds none), and a
 * use is written down when the recorded one is old enough.
 */

export interface SessionRecord {
  session: {
    id: string;
    token: string;
    userId: string;
    /** When the session ends unless it is used before: the earliest of its idle and absolute ends. */
    expiresAt: Date;
    createdAt: Date;
    /** When it ends whatever its use. */
    absoluteEnd: Date;
    /** Its last recorded use (the row's updatedAt), written at most every `touchEveryMs`. */
    lastUsedAt: Date;
    activeOrganizationId: string | null;
  };
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
  /** Upper bound on the memory the kept answers (and the answers built from them) take. */
  maxBytes: number;
  lifetime: SessionLifetime;
  /** The clock sessions end by (ms since the epoch). */
  now?: () => number;
}

/**
 * Why a session is asked for: `use` (a request acting with it: the /api guard, introspection,
 * Better Auth's routes) counts as activity; `look` (get-session, which an open tab may poll) does
 * not, so a polling page cannot keep a left-open workstation signed in.
 */
export type SessionAccess = "use" | "look";

type Entry = { kind: "session"; record: SessionRecord | null } | { kind: "membership"; userId: string; clinicId: string; membership: ClinicMembership | null };

export class SessionDirectory {
  private readonly cache: LRUCache<string, Entry>;
  /** Bumped by every invalidation: a database read that began before it must not be cached after it. */
  private epoch = 0;
  /** Answers may be kept and served until this time (ms since the epoch); 0 = not at all. */
  private cachingUntil = 0;
  private readonly cachingAllowed: boolean;
  private readonly lifetime: SessionLifetime;
  private readonly now: () => number;

  constructor(
    private readonly pool: Pool,
    options: DirectoryOptions,
  ) {
    this.cachingAllowed = options.ttlMs > 0;
    this.lifetime = options.lifetime;
    this.now = options.now ?? Date.now;
    this.cache = new LRUCache<string, Entry>({
      maxSize: options.maxBytes,
      // One entry never takes more than a small share of the cache (a pathological name cannot evict everything).
      maxEntrySize: Math.max(1024, Math.floor(options.maxBytes / 64)),
      sizeCalculation: entrySize,
      ttl: Math.max(options.ttlMs, 1),
    });
  }

  /** True while answers are kept and served from memory. */
  get isCaching(): boolean {
    return this.cachingUntil > Date.now();
  }

  /** Entries and bytes held now (for tests and metrics). */
  get footprint(): { entries: number; bytes: number } {
    return { entries: this.cache.size, bytes: this.cache.calculatedSize };
  }

  /**
   * This replica has just proved it has applied every invalidation committed so far and hears the
   * next ones: keep and serve answers until `untilMs`. Coming back from a lapse, everything kept
   * before it is forgotten (an invalidation may have been missed meanwhile), and reads that began
   * before now are not kept.
   */
  renewCaching(untilMs: number): void {
    if (!this.cachingAllowed) return;
    if (!this.isCaching) this.forgetAll();
    this.cachingUntil = untilMs;
  }

  /** Stop keeping answers (the proof is lost): everything kept is forgotten. */
  stopCaching(): void {
    this.cachingUntil = 0;
    this.forgetAll();
  }

  async findSession(token: string, access: SessionAccess = "use"): Promise<SessionRecord | null> {
    const key = `s\n${token}`;
    const caching = this.isCaching;
    const cached = caching ? this.cache.get(key) : undefined;
    let record: SessionRecord | null = cached?.kind === "session" ? cached.record : await this.loadAndKeep(key, token, caching);
    if (!record) return null;
    const now = this.now();
    if (record.session.expiresAt.getTime() <= now) {
      if (await this.endSession(record.session.id, now)) return null;
      // Not ended in PostgreSQL: either gone already, or a use another replica has just written
      // had not reached the record kept here. The row decides.
      if (cached?.kind !== "session") return null;
      this.forgetSession(record.session.id);
      record = await this.loadSession(token);
      if (!record) return null;
      if (record.session.expiresAt.getTime() <= now) {
        await this.endSession(record.session.id, now);
        return null;
      }
    }
    if (access === "use" && isUseWorthRecording(record.session.lastUsedAt, now, this.lifetime)) {
      return this.recordUse(record, now);
    }
    return record;
  }

  private async loadAndKeep(key: string, token: string, caching: boolean): Promise<SessionRecord | null> {
    const epoch = this.epoch;
    const record = await this.loadSession(token);
    // A session's end bounds how long its answer may be kept.
    const ttl = record ? Math.max(0, record.session.expiresAt.getTime() - this.now()) : undefined;
    if (caching && this.isCaching && epoch === this.epoch && ttl !== 0) {
      this.cache.set(key, { kind: "session", record }, ttl === undefined ? undefined : { ttl: Math.min(ttl, this.cache.ttl) });
    }
    return record;
  }

  /**
   * Deletes the session when its row shows it has ended, so that no entrance (Better Auth's own
   * checks included) accepts it again; true when it did.
   */
  private async endSession(sessionId: string, nowMs: number): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `DELETE FROM "session"
        WHERE "id" = $1 AND ("expiresAt" <= $2 OR "createdAt" <= $3 OR "updatedAt" <= $4)`,
      [sessionId, new Date(nowMs), new Date(nowMs - this.lifetime.maxAgeMs), new Date(nowMs - this.lifetime.idleMs)],
    );
    this.forgetSession(sessionId);
    return rowCount === 1;
  }

  /** Writes the use down; null when the session turns out to have ended meanwhile (its row is gone). */
  private async recordUse(record: SessionRecord, nowMs: number): Promise<SessionRecord | null> {
    const now = new Date(nowMs);
    // Only one of several requests arriving together writes; the others find the use recorded.
    const { rowCount } = await this.pool.query(`UPDATE "session" SET "updatedAt" = $2 WHERE "id" = $1 AND "updatedAt" <= $3`, [
      record.session.id,
      now,
      new Date(nowMs - this.lifetime.touchEveryMs),
    ]);
    // The update's trigger tells every replica; this one forgets at once.
    this.forgetSession(record.session.id);
    // Nothing written: another request recorded a use first, or the session ended (signed out on
    // another replica while this write waited on its row, after the record was read). A fresh
    // statement sees which; serving the record read before would answer for an ended session.
    if (rowCount === 0) {
      const { rowCount: live } = await this.pool.query(`SELECT 1 FROM "session" WHERE "id" = $1`, [record.session.id]);
      if (live === 0) return null;
    }
    return {
      ...record,
      session: { ...record.session, lastUsedAt: now, expiresAt: sessionEnd(record.session.absoluteEnd, now, this.lifetime) },
    };
  }

  async findMembership(userId: string, clinicId: string): Promise<ClinicMembership | null> {
    const key = `m\n${userId}\n${clinicId}`;
    const caching = this.isCaching;
    const cached = caching ? this.cache.get(key) : undefined;
    if (cached?.kind === "membership") return cached.membership;
    const epoch = this.epoch;
    const membership = await this.loadMembership(userId, clinicId);
    if (caching && this.isCaching && epoch === this.epoch) this.cache.set(key, { kind: "membership", userId, clinicId, membership });
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
      `SELECT s."id", s."userId", s."expiresAt", s."createdAt", s."updatedAt", s."activeOrganizationId",
              u."name", u."email", u."username", u."emailVerified", u."mustChangePassword"
         FROM "session" s JOIN "user" u ON u."id" = s."userId"
        -- A disabled account's sessions are worth nothing, wherever they are presented.
        WHERE s."token" = $1 AND u."disabled" IS NOT TRUE`,
      [token],
    );
    const row = rows[0];
    if (!row) return null;
    const createdAt = new Date(row.createdAt);
    const lastUsedAt = new Date(row.updatedAt);
    const ends = absoluteEnd(createdAt, new Date(row.expiresAt), this.lifetime);
    return {
      session: {
        id: row.id,
        token,
        userId: row.userId,
        expiresAt: sessionEnd(ends, lastUsedAt, this.lifetime),
        createdAt,
        absoluteEnd: ends,
        lastUsedAt,
        activeOrganizationId: row.activeOrganizationId ?? null,
      },
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

/**
 * What an entry costs, in bytes: its strings (two bytes a character, as V8 may store them) and a
 * fixed overhead for the objects around them, doubled because the answers built from it
 * (introspection's serialised body, kept beside the record) hold the same strings again.
 */
function entrySize(entry: Entry, key: string): number {
  const OBJECT_OVERHEAD = 400;
  let characters = key.length;
  if (entry.kind === "session" && entry.record) {
    const { session, user } = entry.record;
    characters += session.id.length + session.token.length + session.userId.length + (session.activeOrganizationId?.length ?? 0);
    characters += user.id.length + user.name.length + user.email.length + (user.username?.length ?? 0);
  } else if (entry.kind === "membership") {
    characters += entry.userId.length + entry.clinicId.length;
    const membership = entry.membership;
    if (membership) characters += membership.clinic.name.length + membership.clinic.slug.length + membership.role.length + 1000;
  }
  return OBJECT_OVERHEAD + 4 * characters;
}
