import { tokenLifetimes } from "@temetro/shared";
import type { Config } from "../config.js";
import { jwt } from "better-auth/plugins";
import type { Pool } from "pg";
import { betterAuthRefusal, ErrorCode } from "../errors.js";
import { mustReplaceInitialPassword } from "../clinics/initial-password.js";
import { findMembership } from "../clinics/membership-store.js";

/**
 * Short-lived tokens for calls between services: GET /api/auth/token, keys at /api/auth/jwks. A
 * token carries its subject (added by the plugin), clinic and role: nothing else about the user.
 */
export function jwtTokens(config: Config, pool: Pool) {
  return jwt({
    jwks: {
      keyPairConfig: { alg: "EdDSA", crv: "Ed25519" },
      rotationInterval: config.jwtKeyRotationDays > 0 ? config.jwtKeyRotationDays * 24 * 3600 : undefined,
      // A retired key stays published long enough for every token it signed to expire.
      gracePeriod: 24 * 3600,
    },
    jwt: {
      issuer: config.betterAuthUrl,
      audience: config.jwtAudience,
      expirationTime: `${tokenLifetimes.jwtSeconds}s`,
      definePayload: async ({ user, session }) => {
        const clinicId = (session.activeOrganizationId as string | null | undefined) ?? null;
        const membership = clinicId ? await findMembership(pool, session.userId, clinicId) : null;
        // A token says nothing of the initial password, so none is minted until it is replaced:
        // otherwise a service trusting the token would let the staff member past that rule.
        if (mustReplaceInitialPassword(user, membership)) {
          throw betterAuthRefusal(ErrorCode.PASSWORD_CHANGE_REQUIRED);
        }
        return { clinic: membership?.clinic.id ?? null, role: membership?.role ?? null };
      },
    },
    // No token minted on every get-session: callers that want one ask /token.
    disableSettingJwtHeader: true,
  });
}
