import { once } from "node:events";
import type { RedisConnection } from "./redis.js";
import { withTimeout } from "./timeout.js";

/** One dependency's check: resolves when it answers, rejects (with the reason) when it does not. */
export type ReadinessCheck = () => Promise<void>;

export interface Readiness {
  ready: boolean;
  /** Each check's result: "ok" or why it failed. */
  checks: Record<string, string>;
  /** Names of the failing checks. */
  failing: string[];
}

/**
 * Runs every check at once, each bounded by `timeoutMs` (a dependency that hangs is as unready
 * as one that is down): what both services' GET /health/ready report.
 */
export async function checkReadiness(checks: Record<string, ReadinessCheck>, timeoutMs: number): Promise<Readiness> {
  const results = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      try {
        await withTimeout(check(), timeoutMs);
        return [name, "ok"] as const;
      } catch (error) {
        return [name, (error as Error).message || "failed"] as const;
      }
    }),
  );
  const failing = results.filter(([, result]) => result !== "ok").map(([name]) => name);
  return { ready: failing.length === 0, checks: Object.fromEntries(results), failing };
}

/**
 * Readiness of Redis on a connection kept for the checks (readiness must not queue behind the
 * traffic it is asked about): still connecting (just started, or reconnecting), it is waited for
 * within the check's time; then it must answer PING.
 */
export function redisAnswers(redis: RedisConnection, timeoutMs: number): ReadinessCheck {
  return async () => {
    // The signal removes the listener when Redis stays away: probes must not pile them up.
    if (redis.status !== "ready") await once(redis, "ready", { signal: AbortSignal.timeout(timeoutMs) });
    if ((await redis.ping()) !== "PONG") throw new Error("unexpected PING answer");
  };
}
