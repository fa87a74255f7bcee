import { collectDefaultMetrics, Registry } from "prom-client";

/**
 * One Prometheus registry per process, with Node's defaults (CPU, memory, GC, event-loop lag as
 * `nodejs_eventloop_lag_*`) and the service's name as a label on every series.
 */
export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 20 });
  return registry;
}

export type { Registry } from "prom-client";
