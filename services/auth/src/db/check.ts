import pg from "pg";
import { createRedis, describeRedisTopology, type RedisTopology } from "@temetro/shared";
import type { Config } from "../config.js";
import { isMissingDatabase } from "./ensure-database.js";

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

/** Which PostgreSQL URL to try, and the variable it came from (the migration has its own). */
export interface DatabaseTarget {
  url: string;
  variable: "DATABASE_URL" | "MIGRATION_DATABASE_URL";
}

function probes(database: DatabaseTarget, redis: RedisTopology): Record<Dependency, Probe> {
  return {
    postgres: {
      label: "PostgreSQL",
      variable: database.variable,
      url: database.url,
      defaultPort: 5432,
      howToStart: "this repository: `docker compose up -d postgres`; a Debian host: `pg_ctlcluster 15 main start`",
      async reach() {
        // The service's own database: a missing one is a PostgreSQL that answers (the migration
        // creates it), and a role may have no access to any other database.
        const client = new pg.Client({ connectionString: database.url, connectionTimeoutMillis: 3000 });
        client.on("error", () => {});
        try {
          await client.connect();
        } catch (error) {
          if (!isMissingDatabase(error)) throw error;
        } finally {
          await client.end().catch(() => {});
        }
      },
    },
    redis: {
      label: "Redis",
      variable: { single: "REDIS_URL", sentinel: "REDIS_SENTINELS", cluster: "REDIS_CLUSTER_NODES" }[redis.kind],
      url: redis.kind === "single" ? redis.url : "redis://",
      defaultPort: 6379,
      where: describeRedisTopology(redis),
      howToStart: "this repository: `docker compose up -d redis`; a Debian host: `redis-server --daemonize yes`",
      async reach() {
        const connection = createRedis(redis, "request", { reconnect: false, lazyConnect: true });
        connection.on("error", () => {});
        try {
          await connection.connect();
          await connection.ping();
        } finally {
          connection.disconnect();
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
  database: DatabaseTarget = { url: config.databaseUrl, variable: "DATABASE_URL" },
): Promise<string[]> {
  const all = probes(database, config.redis);
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
