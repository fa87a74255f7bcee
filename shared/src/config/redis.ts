import * as z from "zod";

/** REDIS_URL and REDIS_PREFIX: the email queue both services share, and the auth service's counters. */
export const redisSettings = z
  .object({
    // An IP literal, like DATABASE_URL's default.
    REDIS_URL: z
      .url({ protocol: /^rediss?$/, message: "must be a redis:// or rediss:// URL" })
      .default("redis://127.0.0.1:6379"),
    REDIS_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, "must be 1-64 letters, digits, '-' or '_'")
      .default("temetro"),
  })
  .transform((vars) => ({
    redisUrl: vars.REDIS_URL,
    /** Prefix of every Redis key this deployment writes (queues, limits): several deployments or test jobs can share one Redis. */
    redisPrefix: vars.REDIS_PREFIX,
  }));
