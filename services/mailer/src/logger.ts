import { createLogger, type Logger } from "@temetro/shared";
import type { Config } from "./config.js";
import type { DestinationStream } from "pino";

/** The mailer's logger (JSON, or pretty for a person) (the project's redaction); stdout unless given a destination. */
export function createMailerLogger(config: Pick<Config, "logLevel"> & Partial<Pick<Config, "logFormat">>, destination?: DestinationStream): Logger {
  return createLogger(destination, { name: "mailer", level: config.logLevel, format: config.logFormat ?? "json" });
}

/** Where the mailer sends, fit for the log: never the password of an SMTP URL. */
export function describeSmtpTarget(config: Pick<Config, "smtp">): string {
  const smtp = config.smtp;
  if (!smtp) return "none (emails are printed to this log)";
  if ("url" in smtp) {
    const url = new URL(smtp.url);
    return `${url.protocol}//${url.hostname}:${url.port || (url.protocol === "smtps:" ? 465 : 587)}`;
  }
  return `${smtp.secure ? "smtps" : "smtp"}://${smtp.host}:${smtp.port}`;
}
