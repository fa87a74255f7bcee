import pg from "pg";
import type { SessionDirectory } from "./directory.js";

/**
 * Tells every replica's SessionDirectory what changed. Messages name what to forget:
 * `session:<id>`, `user:<id>`, `clinic:<id>`, or `all`.
 *
 * - Writing is PostgreSQL's: triggers on Better Auth's tables (migration 0005) append a row per
 *   change to the `session_invalidation` log and NOTIFY it (`<seq> <message>`), in the
 *   transaction of the change. The announcement commits exactly when the change does, through
 *   whichever connection made it (pooled, a staff route's transaction, psql): no replica-side
 *   writer, queue or retry exists that could fail, lag or die between a commit and its
 *   announcement. `publish()` only forgets on this replica at once.
 * - Reading: each replica LISTENs on its own connection and applies every notification. It also
 *   polls the log every POLL_INTERVAL_MS, which is the safety net for a notification not
 *   delivered and the proof that the connection is alive: every successful poll lets the
 *   directory keep answers for STALE_AFTER_MS more. Losing the connection, or a poll failing or
 *   hanging, stops the cache at once and forgets everything; it resumes only after LISTEN is back
 *   and a poll has caught up.
 * - A trigger takes its `seq` inside a transaction that may commit after transactions that took
 *   later ones, so "every row above the highest seq read" would miss it. Instead each poll reads
 *   the rows of the transactions its previous poll's snapshot did not see: `xid >= xmax` of that
 *   snapshot, or `xid` among its in-progress list (`xip`). A committed row is invisible to one
 *   poll's snapshot and visible to the next exactly once, so every row is read by one poll, and
 *   none is missed whatever the order of commits.
 *
 * - LISTEN needs a session of its own: through PgBouncer in transaction mode it lands on a server
 *   connection that PgBouncer then lends to others, and notifications reach whoever holds it. So
 *   the listener has its own URL (DATABASE_LISTEN_URL, default DATABASE_URL), and every poll checks
 *   that the session it runs in is the one listening: when it is not, the connection is shared
 *   and the cache stays off for good (a warning names the variable), rather than serve answers
 *   that a lost notification left stale.
 *
 * Redis plays no part: an outage, a restart or an emptied Redis cannot hide a change.
 */
export type Invalidation = `session:${string}` | `user:${string}` | `clinic:${string}` | "all";

export interface InvalidationLogger {
  warn(fields: object, message: string): void;
  info(fields: object, message: string): void;
}

/** What /metrics reports about the channel. */
export interface InvalidationStatus {
  /** Invalidations applied from other replicas (and PostgreSQL): notifications and log rows. */
  received: number;
  /** Times the log could not be read (connection lost or refused, a poll failing or hanging): the cache went off. */
  readFailures: number;
}

export const INVALIDATION_CHANNEL = "temetro_session_invalidation";
const POLL_INTERVAL_MS = 1000;
/** A poll that takes longer than this counts as failed. */
const QUERY_TIMEOUT_MS = 1000;
/** How long answers may be served after the last successful poll: one interval plus its timeout, and a margin. */
const STALE_AFTER_MS = POLL_INTERVAL_MS + QUERY_TIMEOUT_MS + 500;
/** More new rows than this in one poll: forgetting everything is cheaper than applying each. */
const FORGET_ALL_ABOVE = 1000;
/** Notified rows remembered so that the poll reading them does not apply them twice. */
const MAX_NOTIFIED = 10_000;
const PRUNE_EVERY_MS = 60_000;
/** Whether the session a statement runs in is the one that listens. */
const LISTENING = `'${INVALIDATION_CHANNEL}' = ANY (array(SELECT pg_listening_channels()))`;

const backoffMs = (attempt: number) => Math.min(100 * 2 ** Math.max(0, attempt - 1), 2000);

/** What a poll's snapshot did not see: transactions from `xmax` on, and those in progress (`xip`). */
interface Horizon {
  xmin: string;
  xmax: string;
  xip: string[];
}

export class InvalidationChannel {
  readonly status: InvalidationStatus = { received: 0, readFailures: 0 };
  private client: pg.Client | undefined;
  /** Undefined until the first poll on a connection. */
  private horizon: Horizon | undefined;
  /** `seq`s applied from notifications whose rows no poll has read yet. */
  private notified = new Set<string>();
  private polling: Promise<void> | undefined;
  /** Connections lost or refused since the last successful poll: the reconnect backs off with it. */
  private failures = 0;
  private closed = false;
  /** The listener's session turned out to be shared (a pooler in transaction mode): no caching, for good. */
  private sharedSession = false;
  private lastPruneAt = 0;
  /** (time, snapshot xmin) pairs, one a prune interval: rows below an old enough xmin may go. */
  private horizonsSeen: { at: number; xmin: string }[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly pollTimer: NodeJS.Timeout;

  constructor(
    private readonly databaseUrl: string,
    private readonly directory: SessionDirectory,
    private readonly log: InvalidationLogger,
    /** Log rows are kept at least this long after they became visible (then deleted). */
    private readonly retentionSeconds: number,
  ) {
    this.pollTimer = setInterval(() => void this.poll(), POLL_INTERVAL_MS);
    this.pollTimer.unref();
    void this.connect();
  }

  /**
   * Forget locally now. Every replica (this one included) also hears of the change from the
   * log, written by PostgreSQL with the change itself: nothing here waits, queues or can fail.
   */
  async publish(message: Invalidation): Promise<void> {
    this.apply(message);
  }

  /** Stops listening. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.pollTimer);
    for (const timer of this.timers) clearTimeout(timer);
    this.directory.stopCaching();
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => {});
  }

  private later(ms: number, work: () => void): void {
    if (this.closed) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      work();
    }, ms);
    timer.unref();
    this.timers.add(timer);
  }

  private async connect(): Promise<void> {
    if (this.closed || this.sharedSession) return;
    const client = new pg.Client({
      connectionString: this.databaseUrl,
      application_name: "temetro-invalidation",
      keepAlive: true,
      connectionTimeoutMillis: 2000,
      query_timeout: QUERY_TIMEOUT_MS,
    });
    // A connection that drops (PostgreSQL restarted) must not become an uncaught error.
    client.on("error", (error) => this.lost(client, error));
    client.on("end", () => this.lost(client, new Error("connection ended")));
    client.on("notification", (notification) => {
      if (client === this.client && notification.channel === INVALIDATION_CHANNEL) this.onNotification(notification.payload ?? "");
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${INVALIDATION_CHANNEL}`);
    } catch (error) {
      client.removeAllListeners("end");
      client.end().catch(() => {});
      this.failures += 1;
      this.status.readFailures += 1;
      if (this.failures === 1) this.log.warn({ err: (error as Error).message }, "session cache off: cannot listen for invalidations");
      this.later(backoffMs(this.failures), () => void this.connect());
      return;
    }
    if (this.closed) {
      await client.end().catch(() => {});
      return;
    }
    this.client = client;
    this.horizon = undefined;
    this.notified.clear();
    await this.poll();
  }

  /**
   * The poll ran in a session that does not listen: the connection leads through a pooler that
   * lends its server connections (PgBouncer in transaction mode), so notifications go astray. The
   * cache goes off for good: every answer is read from PostgreSQL, which is always right.
   */
  private shared(client: pg.Client): void {
    if (client !== this.client) return;
    this.sharedSession = true;
    this.client = undefined;
    this.horizon = undefined;
    this.directory.stopCaching();
    this.log.warn(
      {},
      "session cache off: the invalidation listener's connection is shared by a pooler in transaction mode (PgBouncer), " +
        "so notifications cannot reach it; set DATABASE_LISTEN_URL to PostgreSQL itself",
    );
    client.removeAllListeners("end");
    client.end().catch(() => {});
  }

  /** The connection is gone (or could not prove itself alive): stop caching, reconnect. */
  private lost(client: pg.Client, error: Error): void {
    if (client !== this.client) return;
    this.failures += 1;
    this.status.readFailures += 1;
    this.client = undefined;
    this.horizon = undefined;
    const wasCaching = this.directory.isCaching;
    this.directory.stopCaching();
    if (wasCaching || this.failures === 1) this.log.warn({ err: error.message }, "session cache off: cannot read the invalidation log");
    client.removeAllListeners("end");
    client.end().catch(() => {});
    // A log that keeps failing to be read (its table missing, locked) backs off as well.
    this.later(backoffMs(this.failures), () => void this.connect());
  }

  private onNotification(payload: string): void {
    const space = payload.indexOf(" ");
    if (space < 1) return;
    const seq = payload.slice(0, space);
    if (this.notified.has(seq)) return;
    if (this.notified.size >= MAX_NOTIFIED) this.notified.clear(); // at worst a later poll applies one again
    this.notified.add(seq);
    this.status.received += 1;
    this.apply(payload.slice(space + 1));
  }

  /** Reads what the log holds beyond what was applied; renews the cache's proof of freshness. */
  private poll(): Promise<void> {
    this.polling ??= this.readLog().finally(() => (this.polling = undefined));
    return this.polling;
  }

  private async readLog(): Promise<void> {
    const client = this.client;
    if (!client) return;
    const startedAt = Date.now();
    try {
      let horizon: Horizon & { listening: boolean };
      if (this.horizon === undefined) {
        // Catching up after (re)connecting: the cache was emptied when the connection was lost (or
        // was never filled), so nothing committed before this snapshot needs applying; everything
        // committed after it is notified, and read by the next poll.
        const { rows } = await client.query<Horizon & { listening: boolean }>(
          `SELECT pg_snapshot_xmin(s)::text AS xmin, pg_snapshot_xmax(s)::text AS xmax,
                  array(SELECT pg_snapshot_xip(s)::text) AS xip, ${LISTENING} AS listening
             FROM pg_current_snapshot() AS s`,
        );
        horizon = rows[0]!;
        if (!horizon.listening) return this.shared(client);
      } else {
        // One statement, one snapshot: the rows it returns are exactly those its snapshot sees
        // and the previous one did not (their transaction had not started, or was in progress).
        const { rows } = await client.query<Horizon & { listening: boolean; seq: string | null; target: string | null }>(
          `WITH snapshot AS MATERIALIZED (SELECT pg_current_snapshot() AS s, ${LISTENING} AS listening)
           SELECT pg_snapshot_xmin(s)::text AS xmin, pg_snapshot_xmax(s)::text AS xmax,
                  array(SELECT pg_snapshot_xip(s)::text) AS xip, listening, l.seq::text AS seq, l.target
             FROM snapshot
             LEFT JOIN session_invalidation l ON l.xid >= $1::xid8 OR l.xid = ANY($2::xid8[])
            ORDER BY l.seq`,
          [this.horizon.xmax, this.horizon.xip],
        );
        horizon = rows[0]!;
        if (!horizon.listening) return this.shared(client);
        const fresh = rows.filter((row) => row.seq !== null && !this.notified.delete(row.seq));
        this.status.received += fresh.length;
        if (fresh.length > FORGET_ALL_ABOVE) this.directory.forgetAll();
        else for (const row of fresh) this.apply(row.target!);
      }
      if (client !== this.client) return;
      this.horizon = { xmin: horizon.xmin, xmax: horizon.xmax, xip: horizon.xip };
      this.failures = 0;
      const wasCaching = this.directory.isCaching;
      this.directory.renewCaching(startedAt + STALE_AFTER_MS);
      if (!wasCaching && this.directory.isCaching) this.log.info({}, "session cache on: caught up with the invalidation log");
      if (startedAt - this.lastPruneAt >= PRUNE_EVERY_MS) {
        this.lastPruneAt = startedAt;
        await this.prune(client, startedAt, horizon.xmin);
      }
    } catch (error) {
      this.lost(client, error as Error);
    }
  }

  /**
   * Deletes the rows every replica has had time to read: those of transactions that had ended
   * before a snapshot taken at least `retentionSeconds` ago (below its xmin), so visible since.
   */
  private async prune(client: pg.Client, now: number, xmin: string): Promise<void> {
    this.horizonsSeen.push({ at: now, xmin });
    const cutoff = now - this.retentionSeconds * 1000;
    let old: { at: number; xmin: string } | undefined;
    while (this.horizonsSeen.length > 0 && this.horizonsSeen[0]!.at <= cutoff) old = this.horizonsSeen.shift();
    if (!old) return;
    this.horizonsSeen.unshift(old); // still the newest old enough for the next prune
    await client.query(`DELETE FROM session_invalidation WHERE xid < $1::xid8`, [old.xmin]);
  }

  private apply(message: string): void {
    if (message === "all") return this.directory.forgetAll();
    const separator = message.indexOf(":");
    const kind = message.slice(0, separator);
    const id = message.slice(separator + 1);
    if (kind === "session") this.directory.forgetSession(id);
    else if (kind === "user") this.directory.forgetUser(id);
    else if (kind === "clinic") this.directory.forgetClinic(id);
  }
}
