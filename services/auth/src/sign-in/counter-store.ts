import type { RedisConnection } from "@temetro/shared";

interface WarnLogger {
  warn(fields: object, message: string): void;
  info(fields: object, message: string): void;
}

/** What the metrics endpoint (and an operator) can read about where limits are counted. */
export interface CounterStoreStatus {
  /** true while counts are shared through Redis; false while each replica counts on its own. */
  shared: boolean;
  /** Operations answered from this replica's memory because Redis could not be reached. */
  localFallbacks: number;
  /** Times the counters switched from Redis to memory. */
  outages: number;
}

/**
 * Where rate limits and lockouts are counted: Redis, so every replica sees one count, or, while
 * Redis cannot be reached, this replica's memory. Limits then still hold (per replica, which a
 * deployment of N replicas multiplies by at most N) instead of failing every request or silently
 * switching off; the next operation that reaches Redis makes the counts shared again.
 */
export class CounterStore {
  readonly status: CounterStoreStatus = { shared: true, localFallbacks: 0, outages: 0 };

  constructor(
    readonly redis: RedisConnection,
    /** Prefix of every key: `${REDIS_PREFIX}:`. */
    readonly keyPrefix: string,
    /**
     * Hash-tags the part of a key name that a group of keys, touched together by one script or
     * MULTI, shares (on a Cluster they must share a slot; see `slotTag`).
     */
    readonly sameSlot: (part: string) => string,
    private readonly log: WarnLogger,
  ) {}

  /** Runs `shared` against Redis; when Redis is unreachable or fails, `local` instead. */
  async run<T>(shared: (redis: RedisConnection) => Promise<T>, local: () => T): Promise<T> {
    // Not connected: no command is even attempted (the connection does not queue offline).
    if (this.redis.status === "ready") {
      try {
        const result = await shared(this.redis);
        this.markShared();
        return result;
      } catch (error) {
        this.markLocal(error as Error);
      }
    } else {
      this.markLocal(new Error(`Redis connection is ${this.redis.status}`));
    }
    this.status.localFallbacks += 1;
    return local();
  }

  private markShared(): void {
    if (this.status.shared) return;
    this.status.shared = true;
    this.log.info({ securityEvent: "limits-shared-again" }, "Redis is back: rate limits and lockouts are shared by every replica again");
  }

  private markLocal(error: Error): void {
    if (!this.status.shared) return;
    this.status.shared = false;
    this.status.outages += 1;
    this.log.warn(
      { securityEvent: "limits-local-fallback", err: error.message },
      "Redis unreachable: rate limits and lockouts are counted per replica in memory until it returns",
    );
  }
}
