import type { EmailJob, EmailKind } from "@temetro/shared";
import { renderAccountLocked } from "./account-locked.js";
import type { RenderedEmail } from "./html.js";
import { renderInvitation } from "./invitation.js";
import { renderPasswordChanged } from "./password-changed.js";
import { renderResetPassword } from "./reset-password.js";
import { renderVerifyEmail } from "./verify-email.js";
import { renderWelcome } from "./welcome.js";

export type { RenderedEmail } from "./html.js";

/** Links an email adds itself (the others come in the job, built by the auth service from its configuration). */
export interface TemplateLinks {
  /** The temetro web app (FRONTEND_URL). */
  frontendUrl: string;
}

// A record, not a list: the compiler insists on every kind.
const knownKinds: Record<EmailKind, true> = {
  "verify-email": true,
  "reset-password": true,
  invitation: true,
  "password-changed": true,
  welcome: true,
  "account-locked": true,
};

/** Every kind of email this mailer renders. */
export const emailKinds = Object.keys(knownKinds) as EmailKind[];

/** Whether a job's `kind` (data read back from Redis) is one this mailer renders. */
export function isEmailKind(kind: unknown): kind is EmailKind {
  return typeof kind === "string" && Object.hasOwn(knownKinds, kind);
}

/** Subject, text and HTML of one email. Throws on data no email can be made of (a permanent failure). */
export function renderEmail(job: EmailJob, links: TemplateLinks): RenderedEmail {
  switch (job.kind) {
    case "verify-email":
      return renderVerifyEmail(job);
    case "reset-password":
      return renderResetPassword(job);
    case "invitation":
      return renderInvitation(job);
    case "password-changed":
      return renderPasswordChanged(job, links);
    case "welcome":
      return renderWelcome(job);
    case "account-locked":
      return renderAccountLocked(job);
    default:
      throw new Error(`unknown email kind ${(job as { kind?: unknown }).kind}`);
  }
}
