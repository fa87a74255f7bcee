import closeWithGrace from "close-with-grace";
import { listenOn, loadDotEnv, loadOrExit } from "@temetro/shared";
import { buildApp } from "./app.js";
import { loadConfig } from "./config.js";
import { buildInternalApp } from "./internal-app.js";
import { findUnreachableDependencies } from "./db/check.js";
import { DatabaseSetupError } from "./db/ensure-database.js";
import { migrate } from "./db/migrate.js";
import { createServiceLogger } from "./logger.js";

// Process concerns only: configuration, logger, dependencies, listen, graceful close.

const dotEnv = loadDotEnv();
// The loader's warnings (a generated development secret, a BETTER_AUTH_URL off PORT) wait for the
// logger the configuration chooses (its level, its format).
const warnings: string[] = [];
const config = loadOrExit(() => loadConfig(process.env, { warn: (message) => warnings.push(message) }));
const logger = createServiceLogger(config);
if (dotEnv) logger.info(`settings read from ${dotEnv} (variables already set win)`);
for (const warning of warnings) logger.warn(warning);

const unreachable = await findUnreachableDependencies(config);
if (unreachable.length > 0) {
  for (const problem of unreachable) logger.fatal(problem);
  process.exit(1);
}

// In production the migration Job runs `npm run migrate`; elsewhere start brings the schema along.
if (config.nodeEnv !== "production") {
  await migrate(config, logger).catch((error: unknown) => {
    if (!(error instanceof DatabaseSetupError)) throw error;
    logger.fatal(error.message);
    process.exit(1);
  });
}

const app = await buildApp({ config, logger });
const internal = await buildInternalApp(app);

// On SIGTERM: fail readiness at once; keep serving for SHUTDOWN_DELAY_SECONDS while load balancers
// notice (on Kubernetes the preStop pause has already taken the pod out of rotation); then stop
// accepting, finish the requests in flight (10 s at most), and close the pools.
const drainMs = 10_000;
closeWithGrace({ delay: config.shutdownDelaySeconds * 1000 + drainMs, logger }, async ({ signal, err }) => {
  if (err) logger.error({ err }, "closing after an error");
  else logger.info({ signal }, "closing");
  app.beginShutdown();
  if (!err && config.shutdownDelaySeconds > 0) await new Promise((resolve) => setTimeout(resolve, config.shutdownDelaySeconds * 1000));
  await internal.close();
  await app.close();
});

// A port already taken ends the process (close-with-grace logs the error and closes the pools),
// with the message naming the variable to change.
await listenOn(() => app.listen({ host: config.host, port: config.port }), config.port, "PORT");
await listenOn(() => internal.listen({ host: config.host, port: config.internalPort }), config.internalPort, "INTERNAL_PORT");
