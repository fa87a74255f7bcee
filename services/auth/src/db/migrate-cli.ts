import { ConfigError, loadConfig } from "@temetro/shared";
import { createServiceLogger } from "../logger.js";
import { findUnreachableDependencies } from "./check.js";
import { migrate } from "./migrate.js";

// `npm run migrate`: what the Kubernetes migration Job and `docker compose` run before the service.
const bootLogger = createServiceLogger({ logLevel: "info" });
try {
  const config = loadConfig(process.env, { warn: (message) => bootLogger.warn(message) });
  const logger = createServiceLogger(config);
  const unreachable = (await findUnreachableDependencies(config)).filter((problem) => problem.startsWith("PostgreSQL"));
  if (unreachable.length > 0) {
    for (const problem of unreachable) logger.fatal(problem);
    process.exit(1);
  }
  await migrate(config, logger);
  logger.info("migrations done");
} catch (error) {
  if (error instanceof ConfigError) console.error(error.message);
  else bootLogger.fatal({ err: error }, "migration failed");
  process.exit(1);
}
