import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Test } from "tap";
import { waitUntil } from "./polling.js";
import { cleanUpIfOrphaned } from "./processes.js";
import { countQueuedEmailsTo, DATA_NODE_CONFIG, RedisServerProcess } from "./redis-server-process.js";
import { freePort } from "./spare-redis.js";

/** The name the sentinels monitor the primary under (REDIS_SENTINEL_NAME). */
export const SENTINEL_PRIMARY_NAME = "temetro-test";

/**
 * A Redis Sentinel set of the test's own on this machine: one primary, one replica and three
 * sentinels (quorum 2), each a redis-server on a free port of 127.0.0.1, all stopped and removed
 * at the end of the test. `failover()` moves the primary to the replica as an operator's
 * `SENTINEL FAILOVER` (or a lost primary) would.
 */
export class RedisSentinelSet {
  private constructor(
    /** The two data nodes, the first started as primary. */
    readonly servers: [RedisServerProcess, RedisServerProcess],
    readonly sentinels: RedisServerProcess[],
  ) {}

  static async start(t: Test): Promise<RedisSentinelSet> {
    const dir = await mkdtemp(join(tmpdir(), "redis-sentinel-set-"));
    cleanUpIfOrphaned({ paths: [dir] });
    const [primaryPort, replicaPort, ...sentinelPorts] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
    const primary = new RedisServerProcess("redis-1", primaryPort!, join(dir, "redis-1"), DATA_NODE_CONFIG);
    const replica = new RedisServerProcess("redis-2", replicaPort!, join(dir, "redis-2"), [...DATA_NODE_CONFIG, `replicaof 127.0.0.1 ${primaryPort}`]);
    const sentinels = sentinelPorts.map(
      (port, index) =>
        new RedisServerProcess(
          `sentinel-${index + 1}`,
          port,
          join(dir, `sentinel-${index + 1}`),
          [
            `sentinel monitor ${SENTINEL_PRIMARY_NAME} 127.0.0.1 ${primaryPort} 2`,
            // A primary that does not answer for a second is down: failovers within seconds.
            `sentinel down-after-milliseconds ${SENTINEL_PRIMARY_NAME} 1000`,
            `sentinel failover-timeout ${SENTINEL_PRIMARY_NAME} 10000`,
          ],
          true,
        ),
    );
    const set = new RedisSentinelSet([primary, replica], sentinels);
    t.teardown(async () => {
      await Promise.all(set.processes.map((process) => process.stop()));
      await rm(dir, { recursive: true, force: true });
    });
    await primary.start();
    await replica.start();
    await Promise.all(sentinels.map((sentinel) => sentinel.start()));
    await set.settled();
    return set;
  }

  get processes(): RedisServerProcess[] {
    return [...this.servers, ...this.sentinels];
  }

  /** The variables that point the services at this set. */
  get env(): Record<string, string> {
    return { REDIS_SENTINELS: this.sentinels.map((sentinel) => sentinel.address).join(","), REDIS_SENTINEL_NAME: SENTINEL_PRIMARY_NAME };
  }

  get running(): boolean {
    return this.processes.every((process) => process.running);
  }

  /** Starts again whatever was stopped. */
  async start(): Promise<void> {
    await Promise.all(this.processes.filter((process) => !process.running).map((process) => process.start()));
  }

  /** The port of the primary as each sentinel announces it. */
  async announcedPrimaryPorts(): Promise<number[]> {
    return Promise.all(
      this.sentinels.map(async (sentinel) => {
        const answer = (await sentinel.command((client) => client.call("SENTINEL", "get-master-addr-by-name", SENTINEL_PRIMARY_NAME))) as [string, string];
        return Number(answer[1]);
      }),
    );
  }

  /** The data node that is primary now (every sentinel agreeing). */
  async primary(): Promise<RedisServerProcess> {
    const ports = await this.announcedPrimaryPorts();
    const server = this.servers.find((candidate) => ports.every((port) => port === candidate.port));
    if (!server) throw new Error(`the sentinels disagree on the primary: ports ${ports.join(", ")}`);
    return server;
  }

  /**
   * `SENTINEL FAILOVER`: the replica becomes primary, the old primary its replica. Resolves once
   * every sentinel announces the new primary, with how long that took. The old primary rejoins as a
   * replica some seconds later: `settled()` waits for it (before another failover).
   */
  async failover(): Promise<{ from: number; to: number; tookMs: number }> {
    await this.settled();
    const old = await this.primary();
    const started = Date.now();
    await this.sentinels[0]!.command((client) => client.call("SENTINEL", "FAILOVER", SENTINEL_PRIMARY_NAME));
    const next = this.servers.find((server) => server !== old)!;
    await waitUntil(
      async () => (await this.announcedPrimaryPorts()).every((port) => port === next.port),
      `every sentinel to announce the new primary on port ${next.port}`,
      30_000,
      50,
    );
    return { from: old.port, to: next.port, tookMs: Date.now() - started };
  }

  /**
   * Waits until the set can fail over: the primary is a primary, the replica replicates it with its
   * link up, and every sentinel knows the replica and the two other sentinels.
   */
  async settled(): Promise<void> {
    await waitUntil(
      async () => {
        try {
          const primary = await this.primary();
          const replica = this.servers.find((server) => server !== primary)!;
          const [primaryInfo, replicaInfo] = await Promise.all([primary.info("replication"), replica.info("replication")]);
          if (primaryInfo.role !== "master" || replicaInfo.role !== "slave" || replicaInfo.master_link_status !== "up") return false;
          if (Number(replicaInfo.master_port) !== primary.port) return false;
          const known = await Promise.all(
            this.sentinels.map((sentinel) =>
              sentinel.command(async (client) => {
                const replicas = (await client.call("SENTINEL", "replicas", SENTINEL_PRIMARY_NAME)) as string[][];
                const others = (await client.call("SENTINEL", "sentinels", SENTINEL_PRIMARY_NAME)) as string[][];
                const up = replicas.some((fields) => fields.includes(String(replica.port)) && !fields.join(" ").includes("s_down"));
                return up && others.length === 2;
              }),
            ),
          );
          return known.every(Boolean);
        } catch {
          return false;
        }
      },
      "the Sentinel set to settle (primary, replica linked, sentinels knowing each other)",
      60_000,
      100,
    );
  }

  /** Email jobs queued under REDIS_PREFIX `prefix` addressed to any of these, on the primary. */
  async queuedEmailsTo(prefix: string, addresses: string[]): Promise<number> {
    return (await this.primary()).command((client) => countQueuedEmailsTo(client, prefix, addresses));
  }
}
