/**
 * temetro's fields on Better Auth's tables, declared once: the auth service stores and migrates
 * them (services/auth/src/auth/schema.ts) and the web app gives the same declarations to Better
 * Auth's client (./web.ts), which types `session.user.mustChangePassword` and the clinic's
 * `staffMustChangePassword` from them. Plain data in Better Auth's field format.
 */

export const userFields = {
  // The password is an initial one an admin chose: the clinic guard refuses data requests until the
  // user replaces it through change-password (get-session shows the flag; the web app shows the
  // change-password screen first).
  mustChangePassword: { type: "boolean", required: false, defaultValue: false, input: false },
  // The clinic that created this staff account (POST /api/staff); null for people who signed up.
  createdByClinicId: { type: "string", required: false, input: false },
  // Set when the creating clinic removes the account: it can no longer sign in.
  disabled: { type: "boolean", required: false, defaultValue: false, input: false },
  // When the mailbox owner last proved control of the account (verified the address or used a reset
  // link): from then on no clinic sets its password, disables it or lifts its lockout
  // (clinics/account-claim.ts). Never sent to clients.
  claimedAt: { type: "date", required: false, input: false, returned: false },
} as const;

/** The organization plugin's `schema` option: a clinic's own fields. */
export const clinicSchema = {
  organization: {
    additionalFields: {
      // A clinic's choice: must staff replace the password an admin set at first sign-in?
      // Switched with organization/update `{ data: { staffMustChangePassword: false } }`.
      staffMustChangePassword: { type: "boolean", required: false, defaultValue: true, input: true },
    },
  },
} as const;
