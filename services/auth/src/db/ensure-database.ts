import pg from "pg";
import type { Logger } from "@temetro/shared";

/** Where a database is created from when the target is missing: every PostgreSQL has it. */
const MAINTENANCE_DATABASE = "postgres";

/**
 * A refusal the operator fixes (a missing database, a missing privilege): the migration prints its
 * message and exits 1, without a stack trace.
 */
export class DatabaseSetupError extends Error {
  override name = "DatabaseSetupError";
}

/**
 * Makes sure the target database exists. It connects to the target itself first: when it exists
 * (what every deployment with a managed database has) nothing else is needed, not even access to
 * the `postgres` database. Only a missing target is created, from the maintenance database, which
 * needs the CREATEDB privilege; when that is impossible the error says which database is missing
 * and what to do.
 */
export async function ensureDatabase(databaseUrl: string, logger: Logger): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  if (!name) return;
  const role = decodeURIComponent(url.username) || "the connecting role";

  const target = new pg.Client({ connectionString: databaseUrl });
  target.on("error", () => {});
  try {
    await target.connect();
    return;
  } catch (error) {
    if (!isMissingDatabase(error)) throw error;
  } finally {
    await target.end().catch(() => {});
  }

  const howToCreate =
    `create it as a role that may (\`createdb -h ${url.hostname} -p ${url.port || 5432} -O ${role} ${name}\`, ` +
    `or CREATE DATABASE ${pg.escapeIdentifier(name)} OWNER ${pg.escapeIdentifier(role)}), or give ${role} the CREATEDB privilege ` +
    `(ALTER ROLE ${pg.escapeIdentifier(role)} CREATEDB)`;
  url.pathname = `/${MAINTENANCE_DATABASE}`;
  const admin = new pg.Client({ connectionString: url.toString() });
  admin.on("error", () => {});
  try {
    await admin.connect();
  } catch (error) {
    await admin.end().catch(() => {});
    throw new DatabaseSetupError(
      `The database "${name}" does not exist, and it cannot be created from the "${MAINTENANCE_DATABASE}" database ` +
        `(${(error as Error).message}): ${howToCreate}.`,
    );
  }
  try {
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
    logger.info({ database: name }, "database created");
  } catch (error) {
    const code = (error as { code?: string }).code;
    // Another replica created it between our attempt to connect and our CREATE.
    if (code === "42P04" || code === "23505") return;
    if (code === "42501") {
      throw new DatabaseSetupError(`The database "${name}" does not exist, and ${role} may not create it (no CREATEDB privilege): ${howToCreate}.`);
    }
    throw error;
  } finally {
    await admin.end().catch(() => {});
  }
}

/** PostgreSQL's 3D000; PgBouncer reports the same as 08P01 with PostgreSQL's message. */
export function isMissingDatabase(error: unknown): boolean {
  const code = (error as { code?: string }).code;
  return code === "3D000" || (code === "08P01" && /database ".*" does not exist/.test((error as Error).message));
}
