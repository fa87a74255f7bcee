import * as z from "zod";

const tokenOf32 = z.string().min(32, "must be at least 32 characters (e.g. `openssl rand -base64 32`)");

/**
 * The bearer tokens of the cluster-internal listeners. INTERNAL_TOKEN guards introspection and,
 * unless METRICS_TOKEN is set, /metrics too; METRICS_TOKEN, when set, is the only token /metrics
 * takes, so Prometheus never holds the token that reads sessions.
 */
export const internalTokenSettings = z
  .object({ INTERNAL_TOKEN: tokenOf32.optional(), METRICS_TOKEN: tokenOf32.optional() })
  .transform((vars) => ({
    /** When set, callers of the auth service's /internal routes must present it as a Bearer token. */
    internalToken: vars.INTERNAL_TOKEN,
    /** When set, GET /metrics of either service must present it as a Bearer token. */
    metricsToken: vars.METRICS_TOKEN ?? vars.INTERNAL_TOKEN,
  }));
