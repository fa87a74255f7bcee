import * as z from "zod";
import { boundedInt } from "@temetro/shared";

/**
 * How long a session lives: an absolute lifetime from sign-in, never extended, and an idle timeout
 * since it was last used (a clinic workstation left open is the threat). See sessions/lifetime.ts.
 */
export const sessionLifetimeSettings = z
  .object({
    SESSION_MAX_AGE_HOURS: boundedInt(1, 30 * 24).default(12),
    SESSION_IDLE_MINUTES: boundedInt(1, 30 * 24 * 60).default(30),
  })
  .refine((vars) => vars.SESSION_IDLE_MINUTES <= vars.SESSION_MAX_AGE_HOURS * 60, {
    path: ["SESSION_IDLE_MINUTES"],
    message: "must not be longer than SESSION_MAX_AGE_HOURS",
  })
  .transform((vars) => ({
    sessionLifetime: {
      /** From sign-in to the session's end, whatever its use. */
      maxAgeSeconds: vars.SESSION_MAX_AGE_HOURS * 3600,
      /** From the session's last recorded use to its end. */
      idleSeconds: vars.SESSION_IDLE_MINUTES * 60,
    },
  }));

export type SessionLifetimePolicy = z.output<typeof sessionLifetimeSettings>["sessionLifetime"];
