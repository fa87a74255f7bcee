import pg from "pg";
import { createRedis, type Config } from "@temetro/shared";

/**
 * Before start: are PostgreSQL and Redis reachable? Answers with what a person needs to fix it
 * (which one, where it looked, how to start it) instead of a stack trace.
 */
export async function findUnreachableDependencies(config: Config): Promise<string[]> {
  const problems: string[] = [];

  const target = new URL(config.databaseUrl);
  const client = new pg.Client({ connectionString: withDatabase(config.databaseUrl, "postgres"), connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
  } catch (error) {
    problems.push(
      `PostgreSQL is not reachable at ${target.hostname}:${target.port || 5432} (DATABASE_URL): ${(error as Error).message}. ` +
        "Start it (this repository: `docker compose up -d postgres`; a Debian host: `pg_ctlcluster 15 main start`) or set DATABASE_URL.",
    );
  } finally {
    await client.end().catch(() => {});
  }

  const redisTarget = new URL(config.redisUrl);
  const redis = createRedis(config.redisUrl, "request", { retryStrategy: () => null, lazyConnect: true });
  redis.on("error", () => {});
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    problems.push(
      `Redis is not reachable at ${redisTarget.hostname}:${redisTarget.port || 6379} (REDIS_URL): ${(error as Error).message}. ` +
        "Start it (this repository: `docker compose up -d redis`; a Debian host: `redis-server --daemonize yes`) or set REDIS_URL.",
    );
  } finally {
    redis.disconnect();
  }
  return problems;
}

function withDatabase(databaseUrl: string, name: string): string {
  const url = new URL(databaseUrl);
  url.pathname = `/${name}`;
  return url.toString();
}
