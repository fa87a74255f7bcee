import type { EmailJob } from "@temetro/shared";
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
