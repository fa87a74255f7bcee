import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from "@fastify/rate-limit";
import { LRUCache } from "lru-cache";
import type { CounterStore } from "./counter-store.js";

type Count = { current: number; ttl: number };
type Callback = (error: Error | null, result?: Count) => void;

/** Client keys a replica remembers while Redis is down (least recently used ones go first). */
const LOCAL_CACHE_SIZE = 10_000;

// One atomic step per request, so concurrent requests on any replica see one count. A key that
// somehow lost its expiry (PTTL -1) gets a fresh window instead of counting forever.
// KEYS: the client's counter. ARGV: window ms. Returns {count, ms left in the window}.
const countRequestScript = `
local current = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if current == 1 or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {current, ttl}
`;

interface RateLimitCommands {
  temetroRateLimitCount(key: string, windowMs: number): Promise<[number, number]>;
}

/** This replica's own fixed windows, for while Redis cannot be reached. */
class LocalWindows {
  private readonly windows = new LRUCache<string, { current: number; endsAt: number }>({ max: LOCAL_CACHE_SIZE });

  count(key: string, windowMs: number): Count {
    const now = Date.now();
    const open = this.windows.get(key);
    const window = open && open.endsAt > now ? open : { current: 0, endsAt: now + windowMs };
    window.current += 1;
    this.windows.set(key, window);
    return { current: window.current, ttl: window.endsAt - now };
  }
}

/**
 * A store for @fastify/rate-limit that counts in Redis, shared by every replica, and falls back to
 * this replica's memory while Redis cannot be reached (see CounterStore).
 */
export function sharedOrLocalStore(counters: CounterStore): FastifyRateLimitStoreCtor {
  if (!("temetroRateLimitCount" in counters.redis)) {
    counters.redis.defineCommand("temetroRateLimitCount", { numberOfKeys: 1, lua: countRequestScript });
  }
  const redisKeyPrefix = `${counters.keyPrefix}rate-limit:`;
  const local = new LocalWindows();

  return class SharedOrLocalStore implements FastifyRateLimitStore {
    incr(key: string, callback: Callback, timeWindow: number): void {
      counters
        .run(
          async (redis) => {
            const [current, ttl] = await (redis as unknown as RateLimitCommands).temetroRateLimitCount(redisKeyPrefix + key, timeWindow);
            return { current, ttl };
          },
          () => local.count(key, timeWindow),
        )
        .then((result) => callback(null, result), callback);
    }

    // Every budget's key already names the budget (see sign-in/rate-limits.ts): one keyspace serves all.
    child(): FastifyRateLimitStore {
      return this;
    }
  };
}
