import { Counter, Gauge } from "prom-client";
import { createMetricsRegistry, withTimeout, type Logger, type Registry } from "@temetro/shared";
import { emailKinds } from "./templates/index.js";
import type { KindCounts, Mailer, MailerCounts } from "./worker.js";

/** Longest a scrape waits for the queue's depth; past it the gauge is left out, the counters still answer. */
const QUEUE_DEPTH_TIMEOUT_MS = 1000;

/**
 * The mailer's Prometheus registry: Node's defaults plus what the worker counts, read from
 * `mailer.counts()` and `mailer.metrics()` at scrape time (the worker stays free of prom-client).
 * Every series is labelled service="mailer".
 */
export function createMailerRegistry(mailer: Mailer, logger: Logger): Registry {
  const registry = createMetricsRegistry("mailer");

  // The worker's figures are already totals: each scrape sets the counters to them.
  const outcomeCounter = (outcome: keyof KindCounts, name: string, help: string) =>
    new Counter({
      name,
      help,
      labelNames: ["kind"],
      registers: [registry],
      collect() {
        this.reset();
        // Every kind from the start, at 0: a rate over a series that appears late misses its first email.
        const byKind: MailerCounts["byKind"] = mailer.counts().byKind;
        for (const kind of emailKinds) this.inc({ kind }, byKind[kind]?.[outcome] ?? 0);
        if (byKind.unknown) this.inc({ kind: "unknown" }, byKind.unknown[outcome]);
      },
    });
  outcomeCounter("sent", "mailer_emails_sent_total", "Emails the SMTP server accepted (or, without SMTP, printed), by kind");
  outcomeCounter("retried", "mailer_emails_retried_total", "Failed attempts that will be tried again (SMTP down, 4xx), by kind");
  outcomeCounter("failed", "mailer_emails_failed_total", "Emails given up (permanent rejection, unrenderable, or last attempt failed), by kind");

  new Counter({
    name: "mailer_duplicates_skipped_total",
    help: "Jobs run again after a crash for an email that had already gone out: not sent twice",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(mailer.counts().duplicatesSkipped);
    },
  });

  new Counter({
    name: "mailer_delivery_confirmations_failed_total",
    help: "Emails sent whose delivery could not be confirmed in PostgreSQL (unreachable): recorded by their Redis mark only",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(mailer.counts().confirmationsFailed);
    },
  });
  new Counter({
    name: "mailer_delivery_checks_degraded_total",
    help: "Emails checked before sending against their Redis mark alone, PostgreSQL being unreachable",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(mailer.counts().checksDegraded);
    },
  });

  new Gauge({
    name: "mailer_delivery_confirmations_pending",
    help: "Deliveries sent whose confirmation in PostgreSQL waits for it to answer again (retried every second)",
    registers: [registry],
    collect() {
      this.set(mailer.counts().confirmationsPending);
    },
  });

  const log = logger.child({ component: "metrics" });
  new Gauge({
    name: "mailer_queue_jobs",
    help: "Jobs on the email queue by state: waiting, delayed (for a retry), active (being sent), failed (kept for a resend)",
    labelNames: ["state"],
    registers: [registry],
    async collect() {
      this.reset();
      try {
        const { queue } = await withTimeout(mailer.metrics(), QUEUE_DEPTH_TIMEOUT_MS);
        for (const [state, jobs] of Object.entries(queue)) this.set({ state }, jobs);
      } catch (error) {
        // Left out rather than a stale figure: absent(mailer_queue_jobs) can alert.
        log.warn({ err: (error as Error).message }, "queue depth unavailable for /metrics");
      }
    },
  });

  return registry;
}
