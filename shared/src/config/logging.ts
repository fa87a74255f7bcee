import * as z from "zod";

/**
 * LOG_LEVEL and LOG_FORMAT of the process's logger. Without LOG_FORMAT the format follows stdout:
 * a person at a terminal reads pretty lines, a log collector (a pipe, a file) gets JSON.
 */
export const loggingSettings = z
  .object({
    LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
    LOG_FORMAT: z.enum(["json", "pretty"], { message: "must be json or pretty" }).optional(),
  })
  .transform((vars) => ({
    logLevel: vars.LOG_LEVEL,
    logFormat: vars.LOG_FORMAT ?? (process.stdout.isTTY ? "pretty" : "json"),
  }));

export type LogFormat = "json" | "pretty";
