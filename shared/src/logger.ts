import { pino, type Logger, type LoggerOptions } from "pino";

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

export function createLogger(options: { level: string; name: string } & LoggerOptions): Logger {
  return pino({
    base: { service: options.name },
    timestamp: pino.stdTimeFunctions.isoTime,
    ...options,
    redact: { paths: redactedPaths, censor: "[redacted]" },
  });
}

/** Query parameters and path segments that carry a secret in this service's URLs. */
const secretQueryKeys = new Set(["token", "code", "state", "callbackURL", "redirectTo"]);
const secretPathSegment = /(\/reset-password\/|\/verify-email\/|\/accept-invitation\/)[^/?#]+/g;

/**
 * A request URL fit for the log: the reset token in `/reset-password/:token` and the values of
 * token-like query parameters (`?token=` of verification links) are replaced.
 */
export function redactUrl(url: string): string {
  const queryStart = url.indexOf("?");
  const path = (queryStart === -1 ? url : url.slice(0, queryStart)).replace(secretPathSegment, "$1[redacted]");
  if (queryStart === -1) return path;
  const params = new URLSearchParams(url.slice(queryStart + 1));
  for (const key of [...params.keys()]) {
    if (secretQueryKeys.has(key)) params.set(key, "[redacted]");
  }
  return `${path}?${params.toString()}`;
}
