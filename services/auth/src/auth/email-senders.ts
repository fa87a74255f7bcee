import type { Pool } from "pg";
import type { EmailJob } from "@temetro/shared";
import type { Config } from "../config.js";
import { isPlaceholderEmail } from "../clinics/staff-store.js";
import type { LockedAccount } from "../sign-in/lockout.js";

/**
 * Every email Better Auth's flows produce, as the senders its options take. Each only stores the
 * email with the request's others (email/plugin.ts, `withEmailsStored`): the mailer delivers it.
 * A sender never fails, so Better Auth (which swallows a sender's error) cannot answer 200 for an
 * email that was not stored.
 */

export interface EmailSenderDeps {
  config: Config;
  pool: Pool;
  enqueueEmail: (job: EmailJob) => Promise<void>;
  /** The request has nobody to email but must cost the same write as one that has (timing). */
  coverMissingEmail: () => void;
}

export interface Recipient {
  email: string;
  name: string;
}

export function createEmailSenders({ config, pool, enqueueEmail, coverMissingEmail }: EmailSenderDeps) {
  const frontend = (path: string) => `${config.frontendUrl}${path}`;

  /** A link emailed to an account's own address; an account without a real one has no mailbox. */
  const sendLink = async (kind: "reset-password" | "verify-email", user: Recipient, url: string, page: string) => {
    if (isPlaceholderEmail(user.email)) return;
    await enqueueEmail({ kind, to: user.email, name: user.name, url: withDefaultCallback(url, frontend(page)) });
  };

  return {
    sendResetPassword: ({ user, url }: { user: Recipient; url: string }) => sendLink("reset-password", user, url, "/reset-password"),
    sendVerificationEmail: ({ user, url }: { user: Recipient; url: string }) => sendLink("verify-email", user, url, "/"),

    /**
     * Told to the owner of an account whose password changed, reset or not: if it was not them,
     * they learn it now.
     */
    notifyPasswordChanged: (user: Recipient) =>
      enqueueEmail({ kind: "password-changed", to: user.email, name: user.name, changedAt: new Date().toISOString() }),

    sendInvitation: (invitation: { id: string; email: string; role: string; clinicName: string; inviterName: string }) =>
      enqueueEmail({
        kind: "invitation",
        to: invitation.email,
        name: invitation.email,
        inviterName: invitation.inviterName,
        clinicName: invitation.clinicName,
        role: invitation.role,
        url: frontend(`/accept-invitation?invitationId=${encodeURIComponent(invitation.id)}`),
      }),

    /** Tells an account's owner that sign-in is locked, and where to reset the password. */
    async notifyLockout(account: LockedAccount, lockedUntil: Date): Promise<void> {
      // The same read for an unknown name (an id no row has) as for a real account.
      const { rows } = await pool.query<Recipient>(`SELECT "email", "name" FROM "user" WHERE "id" = $1`, [account.userId ?? ""]);
      const owner = rows[0];
      // An unknown identifier: nobody to tell, but the same write, so the answer that starts a
      // lockout takes as long for an unknown account as for a real one.
      if (!owner) return coverMissingEmail();
      await enqueueEmail({
        kind: "account-locked",
        to: owner.email,
        name: owner.name,
        lockedUntil: lockedUntil.toISOString(),
        url: frontend("/forgot-password"),
      });
    },
  };
}

export type EmailSenders = ReturnType<typeof createEmailSenders>;

/**
 * Better Auth builds links with `callbackURL=/` or an empty one when the client gave none; both
 * lead nowhere useful from an email. Point them at the frontend page instead.
 */
function withDefaultCallback(link: string, fallback: string): string {
  const url = new URL(link);
  const current = url.searchParams.get("callbackURL");
  if (!current || current === "/") url.searchParams.set("callbackURL", fallback);
  return url.toString();
}
