import * as z from "zod";

/** LOG_LEVEL of the process's JSON logger. */
export const loggingSettings = z
  .object({ LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info") })
  .transform((vars) => ({ logLevel: vars.LOG_LEVEL }));
