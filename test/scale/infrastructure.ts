// What the scale run's processes talk to: PgBouncer in transaction pooling mode in front of the
// machine's PostgreSQL (a database of the run's own; the migration and the invalidation listener go
// to PostgreSQL directly, as the README says they must), and a Redis Sentinel set of the run's own
// (a primary, a replica, three sentinels), which SCALE_FAILOVER_AT_SECOND fails over mid-load.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { repositoryRoot } from "@temetro/test-support/auth-app";
import { OwnPgBouncer } from "@temetro/test-support/pgbouncer";
import { RedisSentinelSet } from "@temetro/test-support/redis-sentinel-set";
import { typeScriptEntry } from "@temetro/test-support/processes";
import { ScriptResources } from "./script-resources.js";

const run = promisify(execFile);
/** Server connections PgBouncer keeps to PostgreSQL, shared by every replica's and mailer's pool. */
const SERVER_CONNECTIONS = 20;

export interface Infrastructure {
  /** One line for the report's heading. */
  describe: string;
  databaseEnv: Record<string, string>;
  redisEnv: Record<string, string>;
  /** Brings the schema up to date, as the deployment's migration Job does. */
  migrate(env: Record<string, string>): Promise<void>;
  /** A Sentinel failover: the primary's role moves to the replica (resolves once announced). */
  failover(): Promise<{ tookMs: number }>;
  /** What the engines themselves counted, for the report. */
  report(): Promise<string>;
  stop(): Promise<void>;
}

export async function startInfrastructure(): Promise<Infrastructure> {
  const resources = new ScriptResources();
  const { url: direct, name: database } = await resources.database("scale");
  const bouncer = await OwnPgBouncer.start(resources.owner, { database, poolSize: SERVER_CONNECTIONS });
  const sentinels = await RedisSentinelSet.start(resources.owner);

  return {
    describe: `PgBouncer (transaction pooling, ${SERVER_CONNECTIONS} server connections) in front of PostgreSQL, a Redis Sentinel set (primary, replica, 3 sentinels)`,
    // SCALE_PGBOUNCER=0: the pools go to PostgreSQL directly (for comparison).
    databaseEnv: { DATABASE_URL: process.env.SCALE_PGBOUNCER === "0" ? direct : bouncer.url, MIGRATION_DATABASE_URL: direct, DATABASE_LISTEN_URL: direct },
    redisEnv: sentinels.env,
    failover: () => sentinels.failover(),
    async migrate(env) {
      await run(process.execPath, typeScriptEntry(`${repositoryRoot}/services/auth/src/db/migrate-cli.ts`), {
        env: { PATH: process.env.PATH, ...env },
      });
    },
    async report() {
      const [stats] = await bouncer.show("SHOW STATS");
      const servers = await bouncer.show("SHOW SERVERS");
      return [
        "## PgBouncer",
        `transactions ${stats?.total_xact_count}, queries ${stats?.total_query_count}, average wait for a server connection ${Number(stats?.avg_wait_time ?? 0) / 1000} ms (total ${Number(stats?.total_wait_time ?? 0) / 1e6} s); server connections now ${servers.length} of ${SERVER_CONNECTIONS}`,
      ].join("\n");
    },
    stop: () => resources.release(),
  };
}
