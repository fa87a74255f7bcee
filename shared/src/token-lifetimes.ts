/**
 * How long each token the service hands out stays valid, in seconds. The auth service configures
 * Better Auth with these figures and the mailer's templates state them, so an email never promises
 * a lifetime the service does not keep.
 */
export const tokenLifetimes = {
  /** The link of a password-reset email. */
  resetPasswordSeconds: 60 * 60,
  /** The link of an address-verification email. */
  verifyEmailSeconds: 24 * 60 * 60,
  /** An invitation to join a clinic. */
  invitationSeconds: 7 * 24 * 60 * 60,
  /** A JWT from GET /api/auth/token, for calls between services. */
  jwtSeconds: 5 * 60,
} as const;

/** A lifetime as an email states it: "1 hour", "24 hours", "7 days". */
export function describeLifetime(seconds: number): string {
  const plural = (count: number, unit: string) => `${count} ${unit}${count === 1 ? "" : "s"}`;
  if (seconds % (24 * 3600) === 0 && seconds >= 48 * 3600) return plural(seconds / (24 * 3600), "day");
  if (seconds % 3600 === 0) return plural(seconds / 3600, "hour");
  return plural(Math.round(seconds / 60), "minute");
}
