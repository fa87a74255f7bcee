import { createRequire } from "node:module";
import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from "@fastify/rate-limit";
import type { Redis } from "ioredis";
import type { CounterStore } from "./counter-store.js";

/**
 * @fastify/rate-limit's own stores, used as they are: its Redis store (one atomic Lua INCR +
 * PEXPIRE per request, so concurrent requests on any replica see one count) and its in-memory LRU
 * store. The package does not export them from its entry point, so they are loaded by path.
 */
type Callback = (error: Error | null, result?: { current: number; ttl: number }) => void;
interface LibraryStore {
  incr(key: string, callback: Callback, timeWindow: number, max: number): void;
}
const require = createRequire(import.meta.url);
const RedisStore = require("@fastify/rate-limit/store/RedisStore.js") as new (
  continueExceeding: boolean,
  exponentialBackoff: boolean,
  redis: Redis,
  keyPrefix: string,
) => LibraryStore;
const LocalStore = require("@fastify/rate-limit/store/LocalStore.js") as new (
  continueExceeding: boolean,
  exponentialBackoff: boolean,
  cacheSize: number,
) => LibraryStore;

/** Client keys a replica remembers while Redis is down (least recently used ones go first). */
const LOCAL_CACHE_SIZE = 10_000;

/**
 * A store for @fastify/rate-limit that counts in Redis, shared by every replica, and falls back to
 * this replica's memory while Redis cannot be reached (see CounterStore).
 */
export function sharedOrLocalStore(counters: CounterStore): FastifyRateLimitStoreCtor {
  const shared = new RedisStore(false, false, counters.redis, `${counters.keyPrefix}rate-limit:`);
  const local = new LocalStore(false, false, LOCAL_CACHE_SIZE);

  const incrementIn = (store: LibraryStore, key: string, timeWindow: number, max: number) =>
    new Promise<{ current: number; ttl: number }>((resolve, reject) =>
      store.incr(key, (error, result) => (error || !result ? reject(error) : resolve(result)), timeWindow, max),
    );

  return class SharedOrLocalStore implements FastifyRateLimitStore {
    incr(key: string, callback: Callback, timeWindow: number, max: number): void {
      let localResult: { current: number; ttl: number } | undefined;
      counters
        .run(
          () => incrementIn(shared, key, timeWindow, max),
          () => {
            // LocalStore answers synchronously.
            local.incr(key, (_error, result) => (localResult = result), timeWindow, max);
            return localResult!;
          },
        )
        .then((result) => callback(null, result), callback);
    }

    // Every budget's key already names the budget (see sign-in/rate-limits.ts): one keyspace serves all.
    child(): FastifyRateLimitStore {
      return this;
    }
  };
}
