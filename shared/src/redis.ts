import { Redis, type RedisOptions } from "ioredis";

/**
 * The two ways this project talks to Redis.
 * - `request`: used inside an HTTP request. Fails fast when Redis is down (no offline queue, one
 *   retry) so a request never hangs on it.
 * - `worker`: a BullMQ worker's blocking connection. BullMQ requires `maxRetriesPerRequest: null`
 *   and waits for Redis to come back.
 */
export type RedisRole = "request" | "worker";

export function createRedis(url: string, role: RedisRole, extra: RedisOptions = {}): Redis {
  const common: RedisOptions = {
    connectionName: `temetro-${role}`,
    // Reconnect forever, backing off to 2 s: the service recovers by itself when Redis returns.
    retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
    lazyConnect: false,
  };
  const byRole: RedisOptions =
    role === "request"
      ? { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2000 }
      : { maxRetriesPerRequest: null, enableReadyCheck: false };
  return new Redis(url, { ...common, ...byRole, ...extra });
}
