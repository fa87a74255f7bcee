// A PgBouncer of the test's own, in transaction pooling mode, in front of one database.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { chown, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import type { Test } from "tap";
import { waitUntil } from "./polling.js";
import { cleanUpIfOrphaned } from "./processes.js";
import { freePort } from "./spare-redis.js";

const run = promisify(execFile);
/** Debian installs it under /usr/sbin, which a non-root PATH may lack. */
const pgbouncerBinary = existsSync("/usr/sbin/pgbouncer") ? "/usr/sbin/pgbouncer" : "pgbouncer";

export interface PgBouncerOptions {
  /** The database it serves, under the same name (the one server connection pool of the test). */
  database: string;
  /** Where PostgreSQL listens. */
  host?: string;
  port?: number;
  /** Server connections PgBouncer opens to PostgreSQL at most: every client shares these. */
  poolSize: number;
}

/**
 * `pgbouncer` (the Debian package) started with a generated ini on a free port: transaction pooling,
 * trust authentication, its admin console (`SHOW POOLS`, `SHOW STATS`) open to `postgres`. It
 * refuses to run as root: as root it runs as the `postgres` user, who owns its directory.
 */
export class OwnPgBouncer {
  private constructor(
    private readonly dir: string,
    readonly port: number,
    readonly database: string,
  ) {}

  static async start(t: Test, options: PgBouncerOptions): Promise<OwnPgBouncer> {
    const dir = await mkdtemp(join(tmpdir(), "pgbouncer-"));
    const bouncer = new OwnPgBouncer(dir, await freePort(), options.database);
    const ini = [
      "[databases]",
      `${options.database} = host=${options.host ?? "127.0.0.1"} port=${options.port ?? 5432} dbname=${options.database}`,
      "[pgbouncer]",
      "listen_addr = 127.0.0.1",
      `listen_port = ${bouncer.port}`,
      "unix_socket_dir =",
      "pool_mode = transaction",
      `default_pool_size = ${options.poolSize}`,
      "min_pool_size = 0",
      "reserve_pool_size = 0",
      "max_client_conn = 1000",
      "auth_type = trust",
      `auth_file = ${join(dir, "users.txt")}`,
      "admin_users = postgres",
      `logfile = ${join(dir, "pgbouncer.log")}`,
      `pidfile = ${join(dir, "pgbouncer.pid")}`,
    ].join("\n");
    await writeFile(join(dir, "pgbouncer.ini"), `${ini}\n`);
    await writeFile(join(dir, "users.txt"), `"postgres" ""\n`);
    const asRoot = process.getuid?.() === 0;
    if (asRoot) {
      const { stdout: uid } = await run("id", ["-u", "postgres"]);
      const { stdout: gid } = await run("id", ["-g", "postgres"]);
      for (const file of ["", "pgbouncer.ini", "users.txt"]) await chown(join(dir, file), Number(uid), Number(gid));
    }
    // -d: it detaches once listening, and writes its pid file.
    const [file, args] = asRoot
      ? ["runuser", ["-u", "postgres", "--", pgbouncerBinary, "-d", join(dir, "pgbouncer.ini")]]
      : [pgbouncerBinary, ["-d", join(dir, "pgbouncer.ini")]];
    await run(file, args, { cwd: dir, timeout: 30_000 }).catch(async (error: Error) => {
      throw new Error(`pgbouncer did not start: ${error.message}\n${await bouncer.log()}`);
    });
    await waitUntil(async () => (await bouncer.pid()) !== undefined, "pgbouncer's pid file", 30_000);
    const pid = (await bouncer.pid())!;
    cleanUpIfOrphaned({ pid, paths: [dir] });
    t.teardown(async () => {
      process.kill(pid, "SIGTERM");
      await waitUntil(() => !alive(pid), "pgbouncer to stop", 30_000).catch(() => {});
      await rm(dir, { recursive: true, force: true });
    });
    return bouncer;
  }

  /** The database through PgBouncer. */
  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${this.database}`;
  }

  /** Runs an admin console command (`SHOW POOLS`, `SHOW STATS`, ...): its rows for this database. */
  async show(command: string): Promise<Record<string, unknown>[]> {
    const client = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${this.port}/pgbouncer` });
    await client.connect();
    try {
      // The console speaks only the simple query protocol: no parameters.
      const { rows } = await client.query(command);
      return rows.filter((row) => row.database === this.database);
    } finally {
      await client.end();
    }
  }

  async log(): Promise<string> {
    return readFile(join(this.dir, "pgbouncer.log"), "utf8").catch(() => "");
  }

  private async pid(): Promise<number | undefined> {
    const text = await readFile(join(this.dir, "pgbouncer.pid"), "utf8").catch(() => "");
    const pid = Number(text.trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
