import type { BetterAuthOptions } from "better-auth";
import { jwt, organization, username } from "better-auth/plugins";
import type { Pool } from "pg";

/**
 * What Better Auth stores: its plugins that own tables or columns, and temetro's extra fields. The
 * service's options (options.ts) are built on these, and the migration reads only these: nothing
 * here sends, hashes or counts, so the migration needs no queue, hasher or lockout.
 */

export const userFields = {
  // The password is an initial one an admin chose: the clinic guard refuses data requests until the
  // user replaces it through change-password (get-session shows the flag).
  mustChangePassword: { type: "boolean", required: false, defaultValue: false, input: false },
  // The clinic that created this staff account (POST /api/staff); null for people who signed up.
  createdByClinicId: { type: "string", required: false, input: false },
  // Set when the creating clinic removes the account: it can no longer sign in.
  disabled: { type: "boolean", required: false, defaultValue: false, input: false },
  // When the mailbox owner last proved control of the account (verified the address or used a reset
  // link): from then on no clinic sets its password, disables it or lifts its lockout
  // (clinics/account-claim.ts).
  claimedAt: { type: "date", required: false, input: false, returned: false },
} as const;

export const clinicSchema = {
  organization: {
    additionalFields: {
      // A clinic's choice: must staff replace the password an admin set at first sign-in?
      // Switched with organization/update `{ data: { staffMustChangePassword: false } }`.
      staffMustChangePassword: { type: "boolean", required: false, defaultValue: true, input: true },
    },
  },
} as const;

/** What a username may be: 3 to 32 letters, digits, '.' and '_'. */
export const isValidUsername = (name: string) => /^[A-Za-z0-9._]{3,32}$/.test(name);

/**
 * Usernames of staff accounts: what sign-in/username matches, case-insensitively. Without
 * is-username-available: it would tell anyone which usernames exist (the staff accounts to guess
 * passwords for), and nothing needs it: POST /api/staff answers 409 USERNAME_TAKEN to the admin who
 * picks one. Taken out of the plugin rather than disabled by path, no spelling of the path reaches it.
 */
export const usernamePlugin = () => {
  const plugin = username({
    minUsernameLength: 3,
    maxUsernameLength: 32,
    usernameValidator: isValidUsername,
  });
  const { isUsernameAvailable: _enumeratesUsernames, ...endpoints } = plugin.endpoints;
  return { ...plugin, endpoints };
};

/** The options that decide the database schema, and nothing else: what the migration compares. */
export function schemaOptions(pool: Pool) {
  return {
    database: pool,
    user: { additionalFields: userFields },
    plugins: [usernamePlugin(), organization({ schema: clinicSchema }), jwt()],
  } satisfies BetterAuthOptions;
}
