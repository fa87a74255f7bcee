import type { BetterAuthOptions } from "better-auth";
import { redactUrl } from "@temetro/shared";
import { noteLoggedFailure } from "./dependency-failures.js";
import type { AuthLogger } from "./deps.js";

/**
 * Better Auth's own messages, written to the service's logger. Better Auth logs at error level what
 * a client chose (a foreign Origin, a callbackURL or redirectTo outside the trusted origins) and
 * puts the client's string in the message: an attacker could then raise error alerts at will and
 * write what they like into the log. Those refusals are warnings here, and every URL in a message is
 * cut short and stripped of its secrets (reset tokens, invitation ids) as request URLs are.
 */

/** Better Auth's messages about a client's input, at whatever level Better Auth logs them. */
const aboutClientInput = [
  /^Invalid (origin|callbackURL|redirectURL|errorCallbackURL|newUserCallbackURL|redirect URL)\b/,
  /^If it's a valid URL, please add /,
  /^Email is the same$/,
];

/** Longest stretch of a client's string a log line keeps. */
const MAX_QUOTED = 200;

const urlLike = /\b[a-z][a-z0-9+.-]*:\/\/\S*|\/\S*\?\S*/gi;

const cut = (text: string, max: number) => (text.length > max ? `${text.slice(0, max)}…[cut]` : text);

/** A message with every URL in it redacted and cut short; a client's own message is cut as a whole too (an Origin need not look like a URL). */
export function quoteSafely(message: string, fromClient: boolean): string {
  const quoted = message.replace(urlLike, (url) => cut(redactUrl(url), MAX_QUOTED));
  return fromClient ? cut(quoted, 2 * MAX_QUOTED) : quoted;
}

/** What Better Auth passed as its message, as text: a string, or an error's own message (never its stack or fields). */
function messageText(message: unknown): string {
  if (typeof message === "string") return message;
  if (message instanceof Error) return `${message.name}: ${message.message}`;
  return String(message);
}

export function betterAuthLogger(log: ReturnType<AuthLogger["child"]>, serviceLevel: string): NonNullable<BetterAuthOptions["logger"]> {
  return {
    level: serviceLevel === "debug" || serviceLevel === "trace" ? "debug" : "warn",
    log: (level, message: unknown, ...logged) => {
      // A database failure Better Auth only logs (and answers as a 4xx) is noted for the adapter.
      // Some routes log the caught error itself as the message (list-sessions: `logger.error(e)`).
      noteLoggedFailure([message, ...logged]);
      const text = messageText(message);
      const fromClient = aboutClientInput.some((pattern) => pattern.test(text));
      const written = fromClient && level === "error" ? "warn" : level;
      log[written]({}, quoteSafely(text, fromClient));
    },
  };
}
