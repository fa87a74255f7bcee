// What the scale run's processes talk to. For now the machine's own PostgreSQL and Redis, each in
// a database and key prefix of the run's own.
import { randomUUID } from "node:crypto";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import pg from "pg";
import { repositoryRoot } from "@temetro/test-support/auth-app";
import { typeScriptEntry } from "@temetro/test-support/processes";

const run = promisify(execFile);
const ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres";

export interface Infrastructure {
  /** One line for the report's heading. */
  describe: string;
  databaseEnv: Record<string, string>;
  redisEnv: Record<string, string>;
  /** Brings the schema up to date, as the deployment's migration Job does. */
  migrate(env: Record<string, string>): Promise<void>;
  /** What the engines themselves counted, for the report. */
  report(): string;
  stop(): Promise<void>;
}

export async function startInfrastructure(): Promise<Infrastructure> {
  const database = `temetro_scale_${randomUUID().slice(0, 8)}`;
  const databaseUrl = `postgres://postgres@127.0.0.1:5432/${database}`;
  return {
    describe: "the machine's PostgreSQL and Redis",
    databaseEnv: { DATABASE_URL: databaseUrl },
    redisEnv: { REDIS_URL: "redis://127.0.0.1:6379" },
    async migrate(env) {
      await run(process.execPath, typeScriptEntry(`${repositoryRoot}/services/auth/src/db/migrate-cli.ts`), {
        env: { PATH: process.env.PATH, ...env },
      });
    },
    report: () => "",
    async stop() {
      const admin = new pg.Client({ connectionString: ADMIN_URL });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await admin.end();
    },
  };
}
