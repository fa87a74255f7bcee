import * as z from "zod";
import { boundedInt } from "@temetro/shared";

/** Per-address rate limits (shared by every replica) and the per-account lockout. */
export const signInLimitSettings = z
  .object({
    // Requests per client address (IPv6: per /64) per RATE_LIMIT_WINDOW_SECONDS.
    RATE_LIMIT_WINDOW_SECONDS: boundedInt(1, 3600).default(60),
    RATE_LIMIT_SIGN_IN: boundedInt(1, 100_000).default(5),
    RATE_LIMIT_SIGN_UP: boundedInt(1, 100_000).default(3),
    RATE_LIMIT_PASSWORD_RESET: boundedInt(1, 100_000).default(3),
    RATE_LIMIT_VERIFICATION_EMAIL: boundedInt(1, 100_000).default(3),
    RATE_LIMIT_RESET_COMPLETION: boundedInt(1, 100_000).default(10),
    RATE_LIMIT_API: boundedInt(1, 1_000_000).default(600),
    LOCKOUT_THRESHOLD: boundedInt(1, 1000).default(10),
    LOCKOUT_WINDOW_SECONDS: boundedInt(1, 24 * 3600).default(15 * 60),
    LOCKOUT_BASE_SECONDS: boundedInt(1, 24 * 3600).default(60),
    LOCKOUT_MAX_SECONDS: boundedInt(1, 7 * 24 * 3600).default(3600),
  })
  .transform((vars) => ({
    /** Requests allowed per client address per window, by budget. */
    rateLimits: {
      windowSeconds: vars.RATE_LIMIT_WINDOW_SECONDS,
      /** Email and username sign-in together. */
      signIn: vars.RATE_LIMIT_SIGN_IN,
      signUp: vars.RATE_LIMIT_SIGN_UP,
      /** Requests for a reset email, by any route. */
      passwordReset: vars.RATE_LIMIT_PASSWORD_RESET,
      /** Requests for another verification email. */
      verificationEmail: vars.RATE_LIMIT_VERIFICATION_EMAIL,
      /** Following the emailed reset link and setting the new password. */
      resetCompletion: vars.RATE_LIMIT_RESET_COMPLETION,
      /** Every other /api request. */
      api: vars.RATE_LIMIT_API,
    },
    /** Per-account protection against password guessing from any number of addresses. */
    lockout: {
      /** Failed sign-ins on one identifier within `windowSeconds` that start a lockout. */
      threshold: vars.LOCKOUT_THRESHOLD,
      windowSeconds: vars.LOCKOUT_WINDOW_SECONDS,
      /** First lockout's length; each further one doubles, up to `maxSeconds`. */
      baseSeconds: vars.LOCKOUT_BASE_SECONDS,
      maxSeconds: Math.max(vars.LOCKOUT_MAX_SECONDS, vars.LOCKOUT_BASE_SECONDS),
    },
  }));

export type RateLimits = z.output<typeof signInLimitSettings>["rateLimits"];
export type LockoutPolicy = z.output<typeof signInLimitSettings>["lockout"];
