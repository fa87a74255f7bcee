import type { BetterAuthOptions } from "better-auth";
import { jwt, organization, username } from "better-auth/plugins";
import type { Pool } from "pg";
import { clinicSchema, userFields } from "@temetro/auth-client/additional-fields";

/**
 * What Better Auth stores: its plugins that own tables or columns, and temetro's extra fields. The
 * service's options (options.ts) are built on these, and the migration reads only these: nothing
 * here sends, hashes or counts, so the migration needs no queue, hasher or lockout.
 */

// temetro's extra fields (the user's mustChangePassword, createdByClinicId, disabled, claimedAt; the
// clinic's staffMustChangePassword) are declared once in @temetro/auth-client, whose web entry hands
// the same declarations to the web app's Better Auth client.
export { clinicSchema, userFields } from "@temetro/auth-client/additional-fields";
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
