import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Redis } from "ioredis";
import { waitUntil } from "./polling.js";
import { WatchedProcess } from "./processes.js";

/**
 * One redis-server (a data node or, with `sentinel`, a sentinel) of a test's own Sentinel set or
 * Cluster, on a free port of 127.0.0.1, in a directory of its own. `start()` again after a stop
 * runs it with the same configuration (a Sentinel's file keeps what it learnt).
 */
export class RedisServerProcess extends WatchedProcess {
  constructor(
    name: string,
    readonly port: number,
    private readonly dir: string,
    /** Lines of its configuration file (written once; a sentinel rewrites it). */
    private readonly config: string[],
    private readonly sentinel = false,
  ) {
    super(name);
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const file = join(this.dir, "redis.conf");
    if (!this.running) {
      await mkdir(this.dir, { recursive: true });
      // Written at the first start only: a sentinel rewrites its own (primaries, other sentinels).
      await writeFile(file, [`port ${this.port}`, "bind 127.0.0.1", `dir ${this.dir}`, ...this.config].join("\n") + "\n", { flag: "wx" }).catch(
        (error: NodeJS.ErrnoException) => {
          if (error.code !== "EEXIST") throw error;
        },
      );
      this.launch("redis-server", this.sentinel ? [file, "--sentinel"] : [file], { PATH: process.env.PATH });
    }
    await waitUntil(
      () => this.command(async (client) => (await client.ping()) === "PONG").catch(() => false),
      `${this.name} on port ${this.port} to answer PING:\n${this.output().slice(-1000)}`,
      15_000,
    );
  }

  /** One command on a connection of its own (no retries: a failure is the answer). */
  async command<T>(use: (client: Redis) => Promise<T>): Promise<T> {
    const client = new Redis(this.port, "127.0.0.1", { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    client.on("error", () => {});
    try {
      await client.connect();
      return await use(client);
    } finally {
      client.disconnect();
    }
  }

  /** `INFO <section>` as a map of its fields. */
  async info(section: string): Promise<Record<string, string>> {
    const text = await this.command((client) => client.info(section));
    return Object.fromEntries(
      text
        .split("\r\n")
        .filter((line) => line.includes(":"))
        .map((line) => [line.slice(0, line.indexOf(":")), line.slice(line.indexOf(":") + 1)]),
    );
  }
}

/** What a data node of the tests runs with: nothing on disk (as this machine's Redis), never evicting. */
export const DATA_NODE_CONFIG = ['save ""', "appendonly no", "maxmemory-policy noeviction"];

/** Email jobs (BullMQ hashes under `<queuePrefix>:email:<id>`) on this node addressed to any of these. */
export async function countQueuedEmailsTo(client: Redis, queuePrefix: string, addresses: string[]): Promise<number> {
  let found = 0;
  let cursor = "0";
  do {
    const [next, keys] = await client.scan(cursor, "MATCH", `${queuePrefix}:email:*`, "COUNT", 1000);
    cursor = next;
    for (const key of keys) {
      if ((await client.type(key)) !== "hash") continue;
      const data = await client.hget(key, "data");
      if (data && addresses.includes((JSON.parse(data) as { to?: string }).to ?? "")) found += 1;
    }
  } while (cursor !== "0");
  return found;
}
