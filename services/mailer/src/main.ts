import closeWithGrace from "close-with-grace";
import { listenOn, loadDotEnv, loadOrExit } from "@temetro/shared";
import { loadConfig } from "./config.js";
import { createMailerLogger, describeSmtpTarget } from "./logger.js";
import { buildMailerHttp } from "./http.js";
import { startMailer } from "./worker.js";

// Process concerns only: configuration, logger, the worker, its HTTP listener, graceful stop.

const dotEnv = loadDotEnv();
const config = loadOrExit(() => loadConfig(process.env));
const logger = createMailerLogger(config);
if (dotEnv) logger.info(`settings read from ${dotEnv} (variables already set win)`);

if (!config.smtp) {
  if (config.nodeEnv === "production") {
    // Printing would put every reset and verification link in the production log.
    logger.fatal("SMTP_URL or SMTP_HOST is required when NODE_ENV=production (without SMTP the mailer prints emails, links included, to its log)");
    process.exit(1);
  }
  logger.warn("no SMTP configured (SMTP_URL or SMTP_HOST): each email is printed to this log, link included, not sent");
}

const mailer = startMailer({ config, logger });
const http = await buildMailerHttp({ redis: config.redis, logger, mailer, metricsToken: config.metricsToken });

// SIGTERM/SIGINT: readiness fails at once, the emails in flight are finished, no new one is taken;
// after 30 s it stops anyway (an email cut short is sent again by the next mailer, once its lock
// expires). The HTTP listener closes last, so liveness keeps answering while the worker drains.
closeWithGrace({ delay: 30_000, logger }, async ({ signal, err }) => {
  if (err) logger.error({ err }, "closing after an error");
  else logger.info({ signal }, "stopping: finishing the emails in flight");
  http.beginShutdown();
  await mailer.close();
  await http.close();
  logger.info("mailer stopped");
});

// A port already taken throws here, naming MAILER_HTTP_PORT: close-with-grace logs it, stops the
// worker and exits 1.
const address = await listenOn(() => http.listen({ host: config.host, port: config.mailerHttpPort }), config.mailerHttpPort, "MAILER_HTTP_PORT");
logger.info(
  { smtp: describeSmtpTarget(config), concurrency: config.mailerConcurrency, queuePrefix: config.redisPrefix, http: address },
  "mailer started",
);
