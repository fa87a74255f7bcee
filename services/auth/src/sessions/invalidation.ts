import pg from "pg";
import type { SessionDirectory } from "./directory.js";

/**
 * Tells every replica's SessionDirectory what changed, through PostgreSQL, where the changes
 * themselves are committed. Messages name what to forget: `session:<id>`, `user:<id>`,
 * `clinic:<id>`, or `all`.
 *
 * - Writing: `publish()` forgets locally at once, then one statement appends the message to the
 *   `session_invalidation` log and NOTIFYs it (with its `seq`) in the same transaction, so an
 *   invalidation is announced exactly when it is durable. Writers serialise on an advisory lock,
 *   so `seq` order is commit order. A write that fails (PostgreSQL unreachable, the connection
 *   lost) stays in memory and is retried with backoff until it is written; past
 *   MAX_PENDING messages they collapse into one `all`.
 * - Reading: each replica LISTENs on its own connection and applies every notification. It polls
 *   the log every POLL_INTERVAL_MS (and at once when a notification skips a `seq`), which also
 *   proves the connection alive: every successful poll lets the directory keep answers for
 *   STALE_AFTER_MS more. Losing the connection, or a poll failing or hanging, stops the cache at
 *   once and forgets everything; it resumes only after LISTEN is back and a poll has caught up.
 *
 * Redis plays no part: an outage, a restart or an emptied Redis cannot hide a change, and there is
 * no "publisher down while subscribers are up" state, since the announcement is part of the commit.
 */
export type Invalidation = `session:${string}` | `user:${string}` | `clinic:${string}` | "all";

export interface InvalidationLogger {
  warn(fields: object, message: string): void;
  info(fields: object, message: string): void;
}

/** What /metrics reports about the channel. */
export interface InvalidationStatus {
  /** Invalidations not yet written to the log (waiting for PostgreSQL). */
  pending: number;
  /** Writes of the log that failed (each failed attempt counts its messages). */
  failed: number;
  /** Messages written again after a failed attempt. */
  retried: number;
  /** Messages written to the log. */
  written: number;
}

export const INVALIDATION_CHANNEL = "temetro_session_invalidation";
const POLL_INTERVAL_MS = 1000;
/** A poll (or a log write) that takes longer than this counts as failed. */
const QUERY_TIMEOUT_MS = 1000;
/** How long answers may be served after the last successful poll: one interval plus its timeout, and a margin. */
const STALE_AFTER_MS = POLL_INTERVAL_MS + QUERY_TIMEOUT_MS + 500;
/** Longest a publish() makes its caller wait for the log write; the write goes on being retried after. */
const PUBLISH_WAIT_MS = 2000;
const MAX_PENDING = 10_000;
const WRITE_BATCH = 500;
const PRUNE_EVERY_MS = 60_000;
// Any constant shared by every replica; distinct from the migration lock (db/migrate.ts).
const LOG_LOCK_KEY = 727_465_004;

const backoffMs = (attempt: number) => Math.min(100 * 2 ** Math.max(0, attempt - 1), 2000);

interface PendingMessage {
  message: Invalidation;
  attempts: number;
  written: Promise<void>;
  resolve: () => void;
}

export class InvalidationChannel {
  readonly status: InvalidationStatus = { pending: 0, failed: 0, retried: 0, written: 0 };
  private client: pg.Client | undefined;
  /** Highest `seq` applied (as a bigint); undefined until the first poll on a connection. */
  private appliedSeq: bigint | undefined;
  private pending: PendingMessage[] = [];
  private writing = false;
  private writeAttempt = 0;
  private polling: Promise<void> | undefined;
  /** Connections lost or refused since the last successful poll: the reconnect backs off with it. */
  private failures = 0;
  private closed = false;
  private lastPruneAt = 0;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly pollTimer: NodeJS.Timeout;

  constructor(
    private readonly databaseUrl: string,
    private readonly directory: SessionDirectory,
    private readonly log: InvalidationLogger,
    /** Log rows older than this are deleted (the cache's longest lifetime plus a margin). */
    private readonly retentionSeconds: number,
  ) {
    this.pollTimer = setInterval(() => void this.poll(), POLL_INTERVAL_MS);
    this.pollTimer.unref();
    void this.connect();
  }

  /** Forget locally now; write the message to the log (and so tell every replica). Never throws. */
  async publish(message: Invalidation): Promise<void> {
    this.apply(message);
    let resolve!: () => void;
    const written = new Promise<void>((done) => (resolve = done));
    this.pending.push({ message, attempts: 0, written, resolve });
    if (this.pending.length > MAX_PENDING) this.collapsePending();
    this.status.pending = this.pending.length;
    void this.write();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([written, new Promise<void>((done) => (timer = setTimeout(done, PUBLISH_WAIT_MS)))]);
    clearTimeout(timer);
  }

  /** Stops listening; gives the invalidations not yet written one last chance (bounded). */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.pollTimer);
    for (const timer of this.timers) clearTimeout(timer);
    this.directory.stopCaching();
    if (this.pending.length > 0 && this.client) {
      void this.write();
      const deadline = Date.now() + PUBLISH_WAIT_MS;
      while (this.pending.length > 0 && this.client && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      if (this.pending.length > 0) {
        this.log.warn({ pending: this.pending.length }, "closing with session invalidations not written: other replicas may keep stale answers until their TTL");
      }
    }
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
    if (this.closed) return;
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
      if (this.failures === 1) this.log.warn({ err: (error as Error).message }, "session cache off: cannot listen for invalidations");
      this.later(backoffMs(this.failures), () => void this.connect());
      return;
    }
    if (this.closed) {
      await client.end().catch(() => {});
      return;
    }
    this.client = client;
    this.appliedSeq = undefined;
    await this.poll();
    void this.write();
  }

  /** The connection is gone (or could not prove itself alive): stop caching, reconnect. */
  private lost(client: pg.Client, error: Error): void {
    if (client !== this.client) return;
    this.failures += 1;
    this.client = undefined;
    this.appliedSeq = undefined;
    const wasCaching = this.directory.isCaching;
    this.directory.stopCaching();
    if (wasCaching) this.log.warn({ err: error.message }, "session cache off: invalidation connection lost");
    client.removeAllListeners("end");
    client.end().catch(() => {});
    // Writes failing again and again (the log locked, its table missing) back off as well.
    this.later(backoffMs(Math.max(this.failures, this.writeAttempt)), () => void this.connect());
  }

  private onNotification(payload: string): void {
    const space = payload.indexOf(" ");
    if (space < 1) return;
    let seq: bigint;
    try {
      seq = BigInt(payload.slice(0, space));
    } catch {
      return;
    }
    this.apply(payload.slice(space + 1));
    if (this.appliedSeq === undefined) return;
    if (seq <= this.appliedSeq) return;
    if (seq === this.appliedSeq + 1n) this.appliedSeq = seq;
    // A seq skipped: read the log now rather than at the next tick.
    else if (seq > this.appliedSeq + 1n) void this.poll();
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
      if (this.appliedSeq === undefined) {
        // Catching up after (re)connecting: the cache was emptied when the connection was lost, so
        // nothing older needs applying; everything committed after this read is notified.
        const { rows } = await client.query<{ seq: string }>(`SELECT coalesce(max(seq), 0)::text AS seq FROM session_invalidation`);
        this.appliedSeq = BigInt(rows[0]!.seq);
      } else {
        let more = true;
        while (more) {
          const after: string = this.appliedSeq.toString();
          const result = await client.query<{ seq: string; target: string }>(
            `SELECT seq::text AS seq, target FROM session_invalidation WHERE seq > $1 ORDER BY seq LIMIT 1000`,
            [after],
          );
          for (const row of result.rows) {
            this.apply(row.target);
            const seq = BigInt(row.seq);
            if (this.appliedSeq === undefined || seq > this.appliedSeq) this.appliedSeq = seq;
          }
          more = result.rows.length === 1000;
        }
      }
      if (client !== this.client) return;
      this.failures = 0;
      const wasCaching = this.directory.isCaching;
      this.directory.renewCaching(startedAt + STALE_AFTER_MS);
      if (!wasCaching && this.directory.isCaching) this.log.info({}, "session cache on: caught up with the invalidation log");
      if (startedAt - this.lastPruneAt > PRUNE_EVERY_MS) {
        this.lastPruneAt = startedAt;
        await client.query(`DELETE FROM session_invalidation WHERE created_at < now() - make_interval(secs => $1)`, [
          this.retentionSeconds,
        ]);
      }
    } catch (error) {
      this.lost(client, error as Error);
    }
  }

  /** Writes the pending messages to the log, oldest first, in batches; on failure retries with backoff. */
  private async write(): Promise<void> {
    if (this.writing) return;
    this.writing = true;
    try {
      while (this.pending.length > 0 && this.client) {
        const client = this.client;
        const batch = this.pending.slice(0, WRITE_BATCH);
        const retries = batch.filter((entry) => entry.attempts > 0).length;
        for (const entry of batch) entry.attempts += 1;
        try {
          // The advisory lock orders writers: a seq is committed before the next one is taken, so
          // a reader that sees seq N has seen every seq below N that will ever exist.
          await client.query(
            `WITH ordered AS MATERIALIZED (SELECT pg_advisory_xact_lock($1)),
                  written AS (
                    INSERT INTO session_invalidation (target)
                    SELECT target FROM ordered, unnest($2::text[]) WITH ORDINALITY AS message(target, position)
                    ORDER BY position
                    RETURNING seq, target)
             SELECT pg_notify($3, seq::text || ' ' || target) FROM written`,
            [LOG_LOCK_KEY, batch.map((entry) => entry.message), INVALIDATION_CHANNEL],
          );
        } catch (error) {
          this.status.failed += batch.length;
          this.writeAttempt += 1;
          if (this.writeAttempt === 1) {
            this.log.warn({ err: (error as Error).message, pending: this.pending.length }, "session invalidation not written yet: retrying");
          }
          // The statement may still be running (a timeout): this connection cannot be trusted with
          // the next one. A new connection catches up, then writes again.
          this.lost(client, error as Error);
          return;
        }
        if (this.writeAttempt > 0) this.log.info({}, "session invalidations written again");
        this.writeAttempt = 0;
        this.status.retried += retries;
        this.status.written += batch.length;
        // By identity: the queue may have been collapsed into `all` while this batch was written.
        const done = new Set(batch);
        this.pending = this.pending.filter((entry) => !done.has(entry));
        this.status.pending = this.pending.length;
        for (const entry of batch) entry.resolve();
      }
    } finally {
      this.writing = false;
    }
  }

  /** Too many messages waiting: one `all` says the same in one row. */
  private collapsePending(): void {
    const waiting = this.pending;
    let resolve!: () => void;
    const written = new Promise<void>((done) => (resolve = done));
    this.pending = [{ message: "all", attempts: 0, written, resolve }];
    void written.then(() => {
      for (const entry of waiting) entry.resolve();
    });
    this.log.warn({ collapsed: waiting.length }, "too many session invalidations waiting: every replica will forget everything instead");
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
