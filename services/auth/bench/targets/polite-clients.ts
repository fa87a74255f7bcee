// A load generator of clients that behave as temetro's web app does: each sends a request, and
// on 503 waits the Retry-After it was given before trying again. Runs in its own process; prints
// one JSON line: answers per second by kind, and the latency of every answer.
import { randomUUID } from "node:crypto";

const url = process.env.BENCH_URL!;
const body = process.env.BENCH_BODY!;
const clients = Number(process.env.BENCH_CLIENTS ?? 16);
const seconds = Number(process.env.BENCH_DURATION ?? 6);

const latencies: number[] = [];
const counts = { accepted: 0, shed: 0, shedWithoutRetryAfter: 0, other: 0, errors: 0 };
const otherStatuses: Record<string, number> = {};
const deadline = Date.now() + seconds * 1000;
const started = process.hrtime.bigint();

async function client(): Promise<void> {
  while (Date.now() < deadline) {
    const sent = performance.now();
    let wait = 0;
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: body.replaceAll("[<id>]", randomUUID()),
      });
      await response.arrayBuffer();
      latencies.push(performance.now() - sent);
      if (response.ok) counts.accepted += 1;
      else if (response.status === 503) {
        const retryAfter = Number(response.headers.get("retry-after"));
        if (!(retryAfter > 0)) counts.shedWithoutRetryAfter += 1;
        counts.shed += 1;
        wait = (retryAfter > 0 ? retryAfter : 1) * 1000;
      } else {
        counts.other += 1;
        otherStatuses[response.status] = (otherStatuses[response.status] ?? 0) + 1;
      }
    } catch {
      counts.errors += 1;
      wait = 100;
    }
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(wait, Math.max(0, deadline - Date.now()))));
  }
}

await Promise.all(Array.from({ length: clients }, client));
const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
latencies.sort((a, b) => a - b);
const percentile = (p: number) => (latencies.length ? Math.round(latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))]!) : 0);
console.log(
  JSON.stringify({
    seconds: elapsed,
    acceptedPerSecond: counts.accepted / elapsed,
    shedPerSecond: counts.shed / elapsed,
    ...counts,
    otherStatuses,
    p50: percentile(0.5),
    p99: percentile(0.99),
    max: Math.round(latencies.at(-1) ?? 0),
  }),
);
