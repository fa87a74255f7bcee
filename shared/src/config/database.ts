import * as z from "zod";

const postgresUrl = () => z.url({ protocol: /^postgres(ql)?$/, message: "must be a postgres:// URL" });
const DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/temetro_auth";

/**
 * DATABASE_URL: the auth service's tables, where the mailer also confirms deliveries. The default
 * is an IP literal on purpose: a `localhost` lookup runs on libuv's threadpool and queues behind
 * password hashes under load (see PITFALLS). It may lead through PgBouncer in transaction pooling
 * mode: nothing sent through it relies on a session of its own (see directDatabaseSettings).
 */
export const databaseSettings = z
  .object({
    DATABASE_URL: postgresUrl().default(DEFAULT_DATABASE_URL),
  })
  .transform((vars) => ({ databaseUrl: vars.DATABASE_URL }));

/**
 * The auth service's connections that need a PostgreSQL session of their own, which a pooler in
 * transaction mode (PgBouncer, what managed offerings put in front) does not give: the migration
 * (it creates the database when missing) and the session-invalidation listener (LISTEN). Each
 * defaults to DATABASE_URL, which is right when that leads to PostgreSQL itself.
 */
export const directDatabaseSettings = z
  .object({
    DATABASE_URL: postgresUrl().default(DEFAULT_DATABASE_URL),
    MIGRATION_DATABASE_URL: postgresUrl().optional(),
    DATABASE_LISTEN_URL: postgresUrl().optional(),
  })
  .transform((vars) => ({
    /** Where `npm run migrate` (and a development start) creates the database and the schema. */
    migrationDatabaseUrl: vars.MIGRATION_DATABASE_URL ?? vars.DATABASE_URL,
    /** The invalidation listener's one connection: notifications reach only the session that listens. */
    listenDatabaseUrl: vars.DATABASE_LISTEN_URL ?? vars.DATABASE_URL,
  }));

