import * as z from "zod";
import { boundedInt } from "@temetro/shared";

/** Pooled connections kept for requests that do not hash a password (see PASSWORD_HASH_CONCURRENCY). */
export const RESERVED_CONNECTIONS = 2;

/** How much one process takes on at once: PostgreSQL connections and password hashes. */
export const capacitySettings = z
  .object({
    PASSWORD_HASH_CONCURRENCY: boundedInt(1, 1024).default(8),
    DATABASE_POOL_MAX: boundedInt(3, 1000).default(10),
    DATABASE_CONNECTION_TIMEOUT_MS: boundedInt(100, 60_000).default(5000),
    DATABASE_STATEMENT_TIMEOUT_MS: boundedInt(0, 3_600_000).default(30_000),
  })
  .transform((vars, context) => {
    // A sign-up holds one pooled connection (Better Auth's transaction) while its password hashes:
    // with every connection held that way, nothing else (sign-out, introspection, the outbox relay)
    // could reach the database until a hash finished.
    const hashingMax = vars.DATABASE_POOL_MAX - RESERVED_CONNECTIONS;
    if (vars.PASSWORD_HASH_CONCURRENCY > hashingMax) {
      context.addIssue({
        code: "custom",
        path: ["PASSWORD_HASH_CONCURRENCY"],
        message:
          `must be at most DATABASE_POOL_MAX - ${RESERVED_CONNECTIONS} (${hashingMax}): a request that hashes may ` +
          `hold a connection, and ${RESERVED_CONNECTIONS} stay for the requests that do not`,
      });
      return z.NEVER;
    }
    return {
      /** Password hashes (hash or verify) one process runs at once; past it sign-in answers 503. */
      passwordHashConcurrency: vars.PASSWORD_HASH_CONCURRENCY,
      /** PostgreSQL connections one process opens at most. */
      databasePoolMax: vars.DATABASE_POOL_MAX,
      /** How long a request waits for a PostgreSQL connection (from the pool, or a new one) before 503. */
      databaseConnectionTimeoutMs: vars.DATABASE_CONNECTION_TIMEOUT_MS,
      /**
       * How long PostgreSQL lets one statement of the service's pool run before cancelling it (0: no
       * limit): a statement stuck behind a lock fails (503) instead of holding a connection for good.
       */
      databaseStatementTimeoutMs: vars.DATABASE_STATEMENT_TIMEOUT_MS,
    };
  });
