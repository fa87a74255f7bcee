import * as z from "zod";
import { booleanFlag, commaList } from "./env.js";

export interface RedisNodeAddress {
  host: string;
  port: number;
}

/** Credentials and TLS of the Redis data nodes (and of the sentinels, for a Sentinel set). */
interface RedisAccess {
  username?: string;
  password?: string;
  /** Speak TLS to every node (and sentinel). */
  tls: boolean;
}

/**
 * Where this deployment's Redis is, exactly one of:
 * - `single`: one server (`REDIS_URL`), today's default;
 * - `sentinel`: a primary and its replicas watched by Redis Sentinel (`REDIS_SENTINELS`,
 *   `REDIS_SENTINEL_NAME`): the connection follows the primary through a failover;
 * - `cluster`: a Redis Cluster (`REDIS_CLUSTER_NODES`): keys spread over slots, and every group
 *   of keys one command or script touches together must share a hash tag.
 */
export type RedisTopology =
  | { kind: "single"; url: string }
  | ({ kind: "sentinel"; sentinels: RedisNodeAddress[]; name: string; sentinelUsername?: string; sentinelPassword?: string } & RedisAccess)
  | ({ kind: "cluster"; nodes: RedisNodeAddress[] } & RedisAccess);

const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";

/** `host:port,host:port`; the port defaults to `defaultPort`. IPv6 literals in brackets: `[::1]:26379`. */
function addressList(variable: string, defaultPort: number) {
  return commaList.transform((items, context) => {
    const addresses: RedisNodeAddress[] = [];
    for (const item of items) {
      const match = /^(?:\[([^\]]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(item);
      const port = match?.[3] === undefined ? defaultPort : Number(match[3]);
      if (!match || port < 1 || port > 65535) {
        context.addIssue({ code: "custom", message: `"${item}" is not host:port (comma-separated, e.g. 10.0.0.1:${defaultPort},10.0.0.2:${defaultPort})`, path: [variable] });
        continue;
      }
      addresses.push({ host: match[1] ?? match[2]!, port });
    }
    if (items.length === 0) context.addIssue({ code: "custom", message: "names no node", path: [variable] });
    return addresses;
  });
}

/** Names the variables of one topology that are set, for the error when several are. */
const TOPOLOGY_VARIABLES = {
  single: ["REDIS_URL"],
  sentinel: ["REDIS_SENTINELS", "REDIS_SENTINEL_NAME", "REDIS_SENTINEL_USERNAME", "REDIS_SENTINEL_PASSWORD"],
  cluster: ["REDIS_CLUSTER_NODES"],
} as const;

/**
 * The Redis topology (REDIS_URL | REDIS_SENTINELS + REDIS_SENTINEL_NAME | REDIS_CLUSTER_NODES,
 * with REDIS_USERNAME, REDIS_PASSWORD, REDIS_TLS for the last two) and REDIS_PREFIX: the email
 * queue both services share, and the auth service's counters.
 */
export const redisSettings = z
  .object({
    // An IP literal, like DATABASE_URL's default.
    REDIS_URL: z.url({ protocol: /^rediss?$/, message: "must be a redis:// or rediss:// URL" }).optional(),
    REDIS_SENTINELS: addressList("REDIS_SENTINELS", 26379).optional(),
    REDIS_SENTINEL_NAME: z.string().regex(/^[A-Za-z0-9._-]{1,128}$/, "must be the monitored primary's name (letters, digits, '.', '-', '_')").optional(),
    REDIS_SENTINEL_USERNAME: z.string().optional(),
    REDIS_SENTINEL_PASSWORD: z.string().optional(),
    REDIS_CLUSTER_NODES: addressList("REDIS_CLUSTER_NODES", 6379).optional(),
    REDIS_USERNAME: z.string().optional(),
    REDIS_PASSWORD: z.string().optional(),
    REDIS_TLS: booleanFlag.optional(),
    REDIS_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, "must be 1-64 letters, digits, '-' or '_'")
      .default("temetro"),
  })
  .superRefine((vars, context) => {
    const given = (Object.keys(TOPOLOGY_VARIABLES) as (keyof typeof TOPOLOGY_VARIABLES)[]).filter((kind) =>
      TOPOLOGY_VARIABLES[kind].some((name) => vars[name] !== undefined),
    );
    if (given.length > 1) {
      const named = given.flatMap((kind) => TOPOLOGY_VARIABLES[kind].filter((name) => vars[name] !== undefined));
      context.addIssue({
        code: "custom",
        path: [named[0]!],
        message: `${named.join(", ")} are set together: give one Redis topology, REDIS_URL (one server), REDIS_SENTINELS with REDIS_SENTINEL_NAME (Sentinel) or REDIS_CLUSTER_NODES (Cluster)`,
      });
      return;
    }
    if (given[0] === "sentinel") {
      if (vars.REDIS_SENTINELS === undefined) context.addIssue({ code: "custom", path: ["REDIS_SENTINELS"], message: "is required with REDIS_SENTINEL_NAME: the sentinels' host:port, comma-separated" });
      if (vars.REDIS_SENTINEL_NAME === undefined) context.addIssue({ code: "custom", path: ["REDIS_SENTINEL_NAME"], message: "is required with REDIS_SENTINELS: the name the sentinels monitor the primary under (`sentinel monitor <name> ...`)" });
    }
    if (given[0] === undefined || given[0] === "single") {
      // One server's URL carries its own credentials and scheme: two places for one password would disagree.
      for (const name of ["REDIS_USERNAME", "REDIS_PASSWORD", "REDIS_TLS"] as const) {
        if (vars[name] !== undefined) context.addIssue({ code: "custom", path: [name], message: "applies to REDIS_SENTINELS and REDIS_CLUSTER_NODES; with REDIS_URL put it in the URL (rediss://user:password@host:port)" });
      }
    }
  })
  .transform((vars) => {
    const access = {
      ...(vars.REDIS_USERNAME !== undefined && { username: vars.REDIS_USERNAME }),
      ...(vars.REDIS_PASSWORD !== undefined && { password: vars.REDIS_PASSWORD }),
      tls: vars.REDIS_TLS ?? false,
    };
    let redis: RedisTopology;
    if (vars.REDIS_SENTINELS) {
      redis = {
        kind: "sentinel",
        sentinels: vars.REDIS_SENTINELS,
        name: vars.REDIS_SENTINEL_NAME!,
        ...(vars.REDIS_SENTINEL_USERNAME !== undefined && { sentinelUsername: vars.REDIS_SENTINEL_USERNAME }),
        ...(vars.REDIS_SENTINEL_PASSWORD !== undefined && { sentinelPassword: vars.REDIS_SENTINEL_PASSWORD }),
        ...access,
      };
    } else if (vars.REDIS_CLUSTER_NODES) {
      redis = { kind: "cluster", nodes: vars.REDIS_CLUSTER_NODES, ...access };
    } else {
      redis = { kind: "single", url: vars.REDIS_URL ?? DEFAULT_REDIS_URL };
    }
    return {
      /** Where Redis is (one server, a Sentinel set or a Cluster); `createRedis` connects to it. */
      redis,
      /** Prefix of every Redis key this deployment writes (queues, limits): several deployments or test jobs can share one Redis. */
      redisPrefix: vars.REDIS_PREFIX,
    };
  });

/** Where Redis is, for a person: no password ever. */
export function describeRedisTopology(topology: RedisTopology): string {
  const list = (nodes: RedisNodeAddress[]) => nodes.map(({ host, port }) => `${host.includes(":") ? `[${host}]` : host}:${port}`).join(",");
  switch (topology.kind) {
    case "single": {
      const url = new URL(topology.url);
      return `${url.hostname}:${url.port || 6379} (REDIS_URL)`;
    }
    case "sentinel":
      return `the primary "${topology.name}" of the sentinels ${list(topology.sentinels)} (REDIS_SENTINELS)`;
    case "cluster":
      return `the cluster ${list(topology.nodes)} (REDIS_CLUSTER_NODES)`;
  }
}
