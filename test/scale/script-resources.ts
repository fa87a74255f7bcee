// What the scale scripts start and must remove: the test fixtures they reuse take a tap test for
// their teardown, and a database of the script's own on the machine's PostgreSQL.
import { randomUUID } from "node:crypto";
import pg from "pg";
import type { Test } from "tap";

const ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres";

export class ScriptResources {
  private readonly cleanups: (() => unknown)[] = [];
  /** Stands in for a test where a fixture registers its teardown. */
  readonly owner = { teardown: (cleanup: () => unknown) => this.cleanups.push(cleanup) } as unknown as Test;

  /** A new database on the machine's PostgreSQL (dropped by `release`): its URL and name. */
  async database(label: string): Promise<{ url: string; name: string }> {
    const name = `temetro_${label}_${randomUUID().slice(0, 8)}`;
    await this.admin((client) => client.query(`CREATE DATABASE ${name}`));
    this.cleanups.push(() => this.admin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)));
    return { url: `postgres://postgres@127.0.0.1:5432/${name}`, name };
  }

  /** Everything registered, last first. */
  async release(): Promise<void> {
    for (const cleanup of this.cleanups.splice(0).reverse()) await cleanup();
  }

  private async admin<T>(use: (client: pg.Client) => Promise<T>): Promise<T> {
    const client = new pg.Client({ connectionString: ADMIN_URL });
    await client.connect();
    try {
      return await use(client);
    } finally {
      await client.end();
    }
  }
}
