import { pino, type DestinationStream, type Logger, type LoggerOptions } from "pino";
import pinoPretty from "pino-pretty";
import type { LogFormat } from "./config/logging.js";

export type { Logger } from "pino";

/**
 * Everything that can carry a credential. pino replaces these paths before a line is written, so a
 * password, token or cookie never reaches the log, whoever logs the object. Request URLs go
 * through `redactUrl` in the request serializer instead (a URL is worth logging, its token is not).
 */
export const redactedPaths = [
  "req.headers.cookie",
  "req.headers.authorization",
  "req.headers['x-internal-token']",
  "res.headers['set-cookie']",
  "headers.cookie",
  "headers.authorization",
  "*.password",
  "*.newPassword",
  "*.currentPassword",
  "*.token",
  "password",
  "token",
];

/**
 * A logger with the project's redaction; writes to stdout unless given a destination. JSON unless
 * `format` is "pretty": then each line is a readable one with its level's name (pino-pretty as a
 * stream in this thread, so nothing is lost when the process exits at once, as on a bad config).
 */
export function createLogger(
  destination: DestinationStream | undefined,
  { format = "json", ...options }: { level: string; name: string; format?: LogFormat } & LoggerOptions,
): Logger {
  const settings: LoggerOptions = {
    base: { service: options.name },
    timestamp: pino.stdTimeFunctions.isoTime,
    ...options,
    redact: { paths: redactedPaths, censor: "[redacted]" },
  };
  if (format === "pretty") {
    const pretty = pinoPretty({
      destination: destination ?? 1,
      sync: true,
      colorize: destination === undefined && process.stdout.isTTY === true,
      translateTime: "SYS:HH:MM:ss.l",
      ignore: "pid,hostname,service",
    });
    return pino(settings, pretty);
  }
  return destination ? pino(settings, destination) : pino(settings);
}

/**
 * Query parameters and path segments that carry a secret in this service's URLs. An invitation's
 * id (`get-invitation?id=`, the emailed `accept-invitation?invitationId=`) is not enough to accept
 * it, but is still nobody's business in a log.
 */
const secretQueryKeys = new Set(["token", "code", "state", "id", "invitationId"]);
const secretPathSegment = /(\/reset-password\/|\/verify-email\/|\/accept-invitation\/)[^/?#]+/g;

/**
 * A request URL fit for the log: the reset token in `/reset-password/:token` and the values of
 * token-like query parameters (`?token=` of verification links) are replaced.
 */
export function redactUrl(url: string): string {
  const queryStart = url.indexOf("?");
  const path = (queryStart === -1 ? url : url.slice(0, queryStart)).replace(secretPathSegment, "$1[redacted]");
  if (queryStart === -1) return path;
  const query = url
    .slice(queryStart + 1)
    .split("&")
    .map((pair) => {
      const key = pair.split("=", 1)[0]!;
      // Judged as the server reads it: `%74oken` and `to+ken` spellings name `token` too.
      return secretQueryKeys.has(decodedKey(key)) ? `${key}=[redacted]` : pair;
    })
    .join("&");
  return `${path}?${query}`;
}

function decodedKey(key: string): string {
  try {
    return decodeURIComponent(key.replace(/\+/g, " "));
  } catch {
    return key;
  }
}
