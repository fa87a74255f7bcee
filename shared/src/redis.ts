import { Cluster, Redis, type ClusterOptions, type RedisOptions } from "ioredis";
import type { RedisTopology } from "./config/redis.js";

/**
 * The two ways this project talks to Redis.
 * - `request`: used inside an HTTP request. Fails fast when Redis is down (no offline queue, one
 *   retry) so a request never hangs on it.
 * - `worker`: a BullMQ worker's blocking connection. BullMQ requires `maxRetriesPerRequest: null`
 *   and waits for Redis to come back.
 */
export type RedisRole = "request" | "worker";

/** A connection to any topology: ioredis's `Redis` (one server, Sentinel) or its `Cluster`. */
export type RedisConnection = Redis | Cluster;

/** What a caller may tune on top of its role, on every topology. */
export interface RedisTuning {
  connectionName?: string;
  /** ms a command may take before it fails (the limits fall back to memory then). */
  commandTimeout?: number;
  connectTimeout?: number;
  /** Don't connect before `connect()` (probes that report a failure instead of retrying). */
  lazyConnect?: boolean;
  /** false: give up after the first failed connection (probes, CLIs) instead of reconnecting forever. */
  reconnect?: boolean;
}

// Reconnect forever, backing off to 2 s: the service recovers by itself when Redis returns.
const backoff = (attempt: number) => Math.min(attempt * 100, 2000);

/**
 * Connects to the topology with the role's settings. A Sentinel connection asks the sentinels for
 * the primary, and after a failover (the old primary closing its clients, answering READONLY, or
 * the sentinels announcing `+switch-master`) reconnects to the new one. A Cluster connection
 * follows slots and MOVED/ASK redirections itself.
 *
 * A plain URL string is one server (tests and benches).
 */
export function createRedis(topology: RedisTopology | string, role: RedisRole, tuning: RedisTuning = {}): RedisConnection {
  const target: RedisTopology = typeof topology === "string" ? { kind: "single", url: topology } : topology;
  const retry = tuning.reconnect === false ? () => null : backoff;
  const byRole: RedisOptions =
    role === "request"
      ? { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2000 }
      : { maxRetriesPerRequest: null, enableReadyCheck: false };
  const node: RedisOptions = {
    ...byRole,
    connectionName: tuning.connectionName ?? `temetro-${role}`,
    lazyConnect: tuning.lazyConnect ?? false,
    ...(tuning.commandTimeout !== undefined && { commandTimeout: tuning.commandTimeout }),
    ...(tuning.connectTimeout !== undefined && { connectTimeout: tuning.connectTimeout }),
  };
  if (target.kind === "single") return new Redis(target.url, { ...node, retryStrategy: retry });

  const access: RedisOptions = {
    ...(target.username !== undefined && { username: target.username }),
    ...(target.password !== undefined && { password: target.password }),
    ...(target.tls && { tls: {} }),
  };
  if (target.kind === "sentinel") {
    return new Redis({
      ...node,
      ...access,
      retryStrategy: retry,
      sentinels: target.sentinels,
      name: target.name,
      role: "master",
      ...(target.sentinelUsername !== undefined && { sentinelUsername: target.sentinelUsername }),
      ...(target.sentinelPassword !== undefined && { sentinelPassword: target.sentinelPassword }),
      ...(target.tls && { enableTLSForSentinelMode: true, sentinelTLS: {} }),
      // Every sentinel unreachable: try the list again, backing off, like a lost server.
      sentinelRetryStrategy: retry,
      // Hears `+switch-master` from the sentinels and moves at once, instead of when the old
      // primary closes the connection or a write meets READONLY.
      failoverDetector: true,
      // A write that reached the demoted primary before it closed its clients: reconnect (through
      // the sentinels, to the new primary) and send the command again there.
      reconnectOnError: (error) => (error.message.startsWith("READONLY") ? 2 : false),
    });
  }
  const { enableOfflineQueue, ...perNode } = node;
  const cluster: ClusterOptions = {
    // A node's own connection must not retry by itself: the cluster refreshes its slots and
    // reconnects (clusterRetryStrategy) instead.
    redisOptions: { ...perNode, ...access },
    clusterRetryStrategy: retry,
    enableOfflineQueue: enableOfflineQueue ?? true,
    lazyConnect: tuning.lazyConnect ?? false,
    // Through a failover of a primary, redirections and "CLUSTERDOWN" answers are retried after
    // these delays before the command fails.
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    // Redis Cluster with TLS: certificates name the hosts, not the addresses the nodes announce.
    ...(target.tls && { dnsLookup: (address: string, callback: (error: null, address: string) => void) => callback(null, address) }),
  };
  return new Cluster(target.nodes, cluster);
}

/**
 * Wraps one part of a key name in a hash tag on a Cluster, so that every key carrying the same
 * part lands in the same slot (one script or MULTI may touch them together); elsewhere key names
 * stay as they always were, so an upgrade of a single-server or Sentinel deployment finds its keys.
 */
export function slotTag(topology: RedisTopology | string, part: string): string {
  return typeof topology !== "string" && topology.kind === "cluster" ? `{${part}}` : part;
}

/**
 * The BullMQ prefix of the email queue: REDIS_PREFIX, hash-tagged on a Cluster (BullMQ's scripts
 * touch many keys of a queue at once: they must share one slot). The delivered marks live under it
 * too, so the relay's one MULTI over jobs and marks stays in that slot.
 */
export function emailQueuePrefix(topology: RedisTopology | string, redisPrefix: string): string {
  return slotTag(topology, redisPrefix);
}
