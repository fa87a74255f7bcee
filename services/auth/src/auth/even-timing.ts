import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";

/**
 * Answers whose timing could tell an attacker something leave no sooner than most recent answers
 * of their kind: a sign-in refusal (locked, unknown or wrong password) and a reset request (an
 * address or username with or without an account). Each pair already does the same work (a decoy
 * hash, a decoy insert), but "the same work" still differs by a millisecond or two (a Redis
 * script here, an index page there), which 200 samples measure. Holding each answer until the
 * 95th percentile of the last raw durations of its kind makes the difference vanish for all but
 * the slowest twentieth, without a fixed delay that a slow machine would outgrow or a fast one pay
 * for nothing. The raw durations are this replica's own: no shared state, no extra round trip.
 */
export type EvenedAnswer = "sign-in-refusal" | "reset-request";

/** Raw durations remembered per kind: enough for a stable percentile, few enough to follow load. */
const WINDOW = 64;
const QUANTILE = 0.95;
/** A pathological outlier (a stalled database) never holds later answers longer than this. */
const MAX_HOLD_MS = 1000;

export class EvenTiming {
  private readonly recent = new Map<EvenedAnswer, number[]>();

  /** When an answer's work began: pass it to `hold` once the answer is ready. */
  start(): number {
    return performance.now();
  }

  /** Waits until the answer of this kind, begun at `startedAt`, may leave. */
  async hold(kind: EvenedAnswer, startedAt: number): Promise<void> {
    const took = performance.now() - startedAt;
    const target = this.target(kind);
    this.remember(kind, took);
    if (target > took) await sleep(target - took);
  }

  private target(kind: EvenedAnswer): number {
    const durations = this.recent.get(kind);
    if (!durations || durations.length === 0) return 0;
    const sorted = [...durations].sort((a, b) => a - b);
    return Math.min(MAX_HOLD_MS, sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * QUANTILE))]!);
  }

  private remember(kind: EvenedAnswer, took: number) {
    let durations = this.recent.get(kind);
    if (!durations) this.recent.set(kind, (durations = []));
    durations.push(took);
    if (durations.length > WINDOW) durations.shift();
  }
}
