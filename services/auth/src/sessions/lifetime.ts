import type { SessionLifetimePolicy } from "../config.js";

/**
 * When a session ends: at the earliest of its absolute end (created + SESSION_MAX_AGE_HOURS, never
 * extended) and its idle end (last recorded use + SESSION_IDLE_MINUTES).
 *
 * The last use is the session row's `updatedAt`. Writing it on every request would put a database
 * write (and an invalidation to every replica) on the hot path, so it is written at most once per
 * `touchEveryMs`: the recorded use lags the real one by less than that, and a session therefore
 * ends between `idle - touchEvery` and `idle` after its real last use, never later.
 */
export interface SessionLifetime {
  maxAgeMs: number;
  idleMs: number;
  /** Least time between two writes of a session's last use. */
  touchEveryMs: number;
}

/** A tenth of the idle timeout, between 1 second and 5 minutes: 3 minutes for the default 30. */
export function sessionLifetime(policy: SessionLifetimePolicy): SessionLifetime {
  const idleMs = policy.idleSeconds * 1000;
  return {
    maxAgeMs: policy.maxAgeSeconds * 1000,
    idleMs,
    touchEveryMs: Math.min(5 * 60_000, Math.max(1000, Math.floor(idleMs / 10))),
  };
}

/**
 * The end no use extends: Better Auth's own `expiresAt` (which it checks itself; sign-in sets it to
 * the maximum age) or the maximum age from creation, whichever is first. The second also bounds
 * sessions created under a longer SESSION_MAX_AGE_HOURS, or before it existed.
 */
export function absoluteEnd(createdAt: Date, storedExpiresAt: Date, lifetime: SessionLifetime): Date {
  return new Date(Math.min(storedExpiresAt.getTime(), createdAt.getTime() + lifetime.maxAgeMs));
}

/** The moment the session ends unless it is used again before. */
export function sessionEnd(absolute: Date, lastUsedAt: Date, lifetime: SessionLifetime): Date {
  return new Date(Math.min(absolute.getTime(), lastUsedAt.getTime() + lifetime.idleMs));
}

/** Whether a use now should be written down (the recorded one is old enough). */
export function isUseWorthRecording(lastUsedAt: Date, nowMs: number, lifetime: SessionLifetime): boolean {
  return nowMs - lastUsedAt.getTime() >= lifetime.touchEveryMs;
}
