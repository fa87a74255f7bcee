import pg from "pg";
import { createRedis, describeRedisTopology } from "@temetro/shared";
import type { Config } from "../config.js";

type Dependency = "postgres" | "redis";

interface Probe {
  label: string;
  variable: string;
  url: string;
  defaultPort: number;
  /** Where it looked, when `url` alone does not say (a Sentinel set, a Cluster). */
  where?: string;
  howToStart: string;
  /** Resolves when the dependency answers; its rejection is the reason shown. */
  reach(): Promise<void>;
}

function probes(config: Pick<Config, "databaseUrl" | "redis">): Record<Dependency, Probe> {
  return {
    postgres: {
      label: "PostgreSQL",
      variable: "DATABASE_URL",
      url: config.databaseUrl,
      defaultPort: 5432,
      howToStart: "this repository: `docker compose up -d postgres`; a Debian host: `pg_ctlcluster 15 main start`",
      async reach() {
        // The maintenance database: the service's own may not exist yet (the migration creates it).
        const client = new pg.Client({ connectionString: withDatabase(config.databaseUrl, "postgres"), connectionTimeoutMillis: 3000 });
        try {
          await client.connect();
        } finally {
          await client.end().catch(() => {});
        }
      },
    },
    redis: {
      label: "Redis",
      variable: { single: "REDIS_URL", sentinel: "REDIS_SENTINELS", cluster: "REDIS_CLUSTER_NODES" }[config.redis.kind],
      url: config.redis.kind === "single" ? config.redis.url : "redis://",
      defaultPort: 6379,
      where: describeRedisTopology(config.redis),
      howToStart: "this repository: `docker compose up -d redis`; a Debian host: `redis-server --daemonize yes`",
      async reach() {
        const redis = createRedis(config.redis, "request", { reconnect: false, lazyConnect: true });
        redis.on("error", () => {});
        try {
          await redis.connect();
          await redis.ping();
        } finally {
          redis.disconnect();
        }
      },
    },
  };
}

/**
 * Before start: are PostgreSQL and Redis (or only those asked for) reachable? Answers with what a
 * person needs to fix it (which one, where it looked, how to start it) instead of a stack trace.
 */
export async function findUnreachableDependencies(
  config: Pick<Config, "databaseUrl" | "redis">,
  dependencies: Dependency[] = ["postgres", "redis"],
): Promise<string[]> {
  const all = probes(config);
  const problems: string[] = [];
  for (const name of dependencies) {
    const probe = all[name];
    try {
      await probe.reach();
    } catch (error) {
      const target = new URL(probe.url);
      const where = probe.where ?? `${target.hostname}:${target.port || probe.defaultPort} (${probe.variable})`;
      problems.push(
        `${probe.label} is not reachable at ${where}: ${(error as Error).message}. ` +
          `Start it (${probe.howToStart}) or set ${probe.variable}.`,
      );
    }
  }
  return problems;
}

function withDatabase(databaseUrl: string, name: string): string {
  const url = new URL(databaseUrl);
  url.pathname = `/${name}`;
  return url.toString();
}
