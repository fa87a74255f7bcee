import { loadOrExit } from "@temetro/shared";
import { loadConfig } from "../config.js";
import { createServiceLogger } from "../logger.js";
import { findUnreachableDependencies } from "./check.js";
import { DatabaseSetupError } from "./ensure-database.js";
import { migrate } from "./migrate.js";

// `npm run migrate`: what the Kubernetes migration Job and `docker compose` run before the service.
const bootLogger = createServiceLogger({ logLevel: "info" });
const config = loadOrExit(() => loadConfig(process.env, { warn: (message) => bootLogger.warn(message) }));
const logger = createServiceLogger(config);
try {
  const variable = process.env.MIGRATION_DATABASE_URL ? "MIGRATION_DATABASE_URL" : "DATABASE_URL";
  const unreachable = await findUnreachableDependencies(config, ["postgres"], { url: config.migrationDatabaseUrl, variable });
  if (unreachable.length > 0) {
    for (const problem of unreachable) logger.fatal(problem);
    process.exit(1);
  }
  await migrate(config, logger);
  logger.info("migrations done");
} catch (error) {
  // What the operator must do, without a stack trace; anything else is a fault worth its trace.
  if (error instanceof DatabaseSetupError) bootLogger.fatal(error.message);
  else bootLogger.fatal({ err: error }, "migration failed");
  process.exit(1);
}
