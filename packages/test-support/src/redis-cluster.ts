import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Test } from "tap";
import { waitUntil } from "./polling.js";
import { cleanUpIfOrphaned, startCollected } from "./processes.js";
import { countQueuedEmailsTo, DATA_NODE_CONFIG, RedisServerProcess } from "./redis-server-process.js";
import { freePort } from "./spare-redis.js";

/**
 * A Redis Cluster of the test's own on this machine: three primaries (no replicas), each a
 * redis-server on a free port of 127.0.0.1 with its cluster bus on another free port (the default,
 * port + 10000, may be taken or out of range), the 16384 slots split by `redis-cli --cluster
 * create`. Stopped and removed at the end of the test.
 */
export class RedisCluster {
  private constructor(readonly nodes: RedisServerProcess[]) {}

  static async start(t: Test): Promise<RedisCluster> {
    const dir = await mkdtemp(join(tmpdir(), "redis-cluster-"));
    cleanUpIfOrphaned({ paths: [dir] });
    const nodes: RedisServerProcess[] = [];
    for (let index = 1; index <= 3; index += 1) {
      const [port, busPort] = [await freePort(), await freePort()];
      nodes.push(
        new RedisServerProcess(`cluster-node-${index}`, port, join(dir, `node-${index}`), [
          ...DATA_NODE_CONFIG,
          "cluster-enabled yes",
          "cluster-config-file nodes.conf",
          `cluster-port ${busPort}`,
          "cluster-node-timeout 2000",
        ]),
      );
    }
    const cluster = new RedisCluster(nodes);
    t.teardown(async () => {
      await Promise.all(nodes.map((node) => node.stop()));
      await rm(dir, { recursive: true, force: true });
    });
    await Promise.all(nodes.map((node) => node.start()));
    const create = startCollected("redis-cli", ["--cluster", "create", ...nodes.map((node) => node.address), "--cluster-replicas", "0", "--cluster-yes"], {
      env: { PATH: process.env.PATH },
    });
    const [code] = await create.exited;
    if (code !== 0) throw new Error(`redis-cli --cluster create failed (${code}):\n${create.output()}`);
    await waitUntil(
      () => cluster.allOk(),
      "every node of the cluster to report cluster_state:ok",
      30_000,
      100,
    );
    return cluster;
  }

  private async allOk(): Promise<boolean> {
    const states = await Promise.all(
      this.nodes.map((node) => node.command((client) => client.call("CLUSTER", "INFO") as Promise<string>).catch(() => "")),
    );
    return states.every((state) => /cluster_state:ok/.test(state) && /cluster_known_nodes:3/.test(state));
  }

  get processes(): RedisServerProcess[] {
    return this.nodes;
  }

  /** The variables that point the services at this cluster. */
  get env(): Record<string, string> {
    return { REDIS_CLUSTER_NODES: this.nodes.map((node) => node.address).join(",") };
  }

  get running(): boolean {
    return this.nodes.every((node) => node.running);
  }

  /** Starts again whatever was stopped (a node rejoins from its nodes.conf). */
  async start(): Promise<void> {
    await Promise.all(this.nodes.filter((node) => !node.running).map((node) => node.start()));
  }

  /** Every key on every node matching the pattern, with the node's port and the key's slot. */
  async keysMatching(pattern: string): Promise<{ key: string; port: number; slot: number }[]> {
    const found = await Promise.all(
      this.nodes.map((node) =>
        node.command(async (client) => {
          const keys: string[] = [];
          let cursor = "0";
          do {
            const [next, batch] = await client.scan(cursor, "MATCH", pattern, "COUNT", 1000);
            cursor = next;
            keys.push(...batch);
          } while (cursor !== "0");
          return Promise.all(keys.map(async (key) => ({ key, port: node.port, slot: Number(await client.call("CLUSTER", "KEYSLOT", key)) })));
        }),
      ),
    );
    return found.flat();
  }

  /** Email jobs queued under REDIS_PREFIX `prefix` (hash-tagged on a Cluster) addressed to any of these, on every node. */
  async queuedEmailsTo(prefix: string, addresses: string[]): Promise<number> {
    const counts = await Promise.all(this.nodes.map((node) => node.command((client) => countQueuedEmailsTo(client, `{${prefix}}`, addresses))));
    return counts.reduce((sum, count) => sum + count, 0);
  }
}
