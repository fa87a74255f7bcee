import nodemailer from "nodemailer";
import type { Logger } from "@temetro/shared";
import type { SmtpConfig } from "./config.js";

/** One email, ready to go. */
export interface OutgoingEmail {
  to: string;
  subject: string;
  text: string;
  html: string;
  /**
   * Derived from the idempotency key: a copy sent again after a crash carries the same
   * Message-ID, which mail systems use to recognise a duplicate.
   */
  messageId: string;
}

/** Where emails go: an SMTP server, or (no SMTP configured) the log. */
export interface EmailSender {
  readonly kind: "smtp" | "log";
  send(email: OutgoingEmail): Promise<void>;
  close(): void;
}

export interface SenderOptions {
  smtp: SmtpConfig | undefined;
  from: string;
  /** Connections kept open to the SMTP server: one per email sent at once. */
  maxConnections: number;
  logger: Logger;
}

export function createSender(options: SenderOptions): EmailSender {
  return options.smtp ? smtpSender(options.smtp, options) : logSender(options.logger);
}

function smtpSender(smtp: SmtpConfig, options: SenderOptions): EmailSender {
  const connection =
    "url" in smtp
      ? { url: smtp.url }
      : {
          host: smtp.host,
          port: smtp.port,
          secure: smtp.secure,
          ...(smtp.user ? { auth: { user: smtp.user, pass: smtp.pass } } : {}),
        };
  const transport = nodemailer.createTransport({
    ...connection,
    // Pooled connections: SMTP's handshake is not paid per email.
    pool: true,
    maxConnections: options.maxConnections,
    // A silent server fails the attempt (retried later) instead of holding a job for minutes.
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
  });
  return {
    kind: "smtp",
    async send(email) {
      await transport.sendMail({ from: options.from, ...email });
    },
    close: () => transport.close(),
  };
}

/**
 * The development default: each email printed to the log as a person reads it (its text part, the
 * link on a line of its own), so it can be followed from the terminal. The whole email is the
 * message: pretty logs show it as it would arrive, a JSON line keeps it in one field.
 */
function logSender(logger: Logger): EmailSender {
  return {
    kind: "log",
    async send(email) {
      logger.info(
        { to: email.to, subject: email.subject },
        ["email printed, not sent (no SMTP configured: set SMTP_URL or SMTP_HOST to send)", "", `To: ${email.to}`, `Subject: ${email.subject}`, "", email.text].join("\n"),
      );
    },
    close: () => {},
  };
}

/**
 * A failure no retry can fix: the SMTP server answered 5xx to the recipient or the message (an
 * unknown address, a refused message). Connection errors, timeouts and 4xx answers are transient.
 * A 5xx to authentication is treated as transient: it is the operator's configuration, fixed
 * without losing the emails meanwhile.
 */
export function isPermanentSmtpFailure(error: unknown): boolean {
  const { responseCode, code } = error as { responseCode?: unknown; code?: unknown };
  return (
    typeof responseCode === "number" && responseCode >= 500 && responseCode < 600 && (code === "EENVELOPE" || code === "EMESSAGE")
  );
}

/** What went wrong, for the log and the failed job: the server's answer, never the message. */
export function describeSmtpFailure(error: unknown): string {
  const { code, response, message } = error as { code?: unknown; response?: unknown; message?: unknown };
  const detail = typeof response === "string" ? response : typeof message === "string" ? message : String(error);
  return typeof code === "string" ? `${code}: ${detail}` : detail;
}
