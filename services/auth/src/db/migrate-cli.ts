import { loadOrExit } from "@temetro/shared";
import { loadConfig } from "../config.js";
import { createServiceLogger } from "../logger.js";
import { findUnreachableDependencies } from "./check.js";
import { migrate } from "./migrate.js";

// `npm run migrate`: what the Kubernetes migration Job and `docker compose` run before the service.
const bootLogger = createServiceLogger({ logLevel: "info" });
const config = loadOrExit(() => loadConfig(process.env, { warn: (message) => bootLogger.warn(message) }));
const logger = createServiceLogger(config);
try {
  const unreachable = await findUnreachableDependencies(config, ["postgres"]);
  if (unreachable.length > 0) {
    for (const problem of unreachable) logger.fatal(problem);
    process.exit(1);
  }
  await migrate(config, logger);
  logger.info("migrations done");
} catch (error) {
  bootLogger.fatal({ err: error }, "migration failed");
  process.exit(1);
}
