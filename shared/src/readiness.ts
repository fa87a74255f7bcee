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
