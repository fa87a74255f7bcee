/**
 * The service's own tables, beside the ones Better Auth manages. Each migration runs once, in
 * order, inside a transaction, under the migration lock (see migrate.ts); applied ids are recorded
 * in `temetro_migration`. Append new migrations at the end; never edit one that has shipped.
 */
export interface OwnMigration {
  /** Unique and stable: `NNNN-what-it-does`. */
  id: string;
  sql: string;
}

export const ownMigrations: OwnMigration[] = [];
