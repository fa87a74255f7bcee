import { describeLifetime, tokenLifetimes, type VerificationEmail } from "@temetro/shared";
import { displayName, type RenderedEmail } from "./html.js";
import { renderLinkEmail } from "./link-email.js";

export function renderVerifyEmail(job: VerificationEmail): RenderedEmail {
  return renderLinkEmail({
    subject: "Confirm your email address for temetro",
    name: displayName(job.name),
    lead: [
      {
        text: "Please confirm your email address for your temetro account by opening this link:",
        html: "Please confirm your email address for your temetro account.",
      },
    ],
    url: job.url,
    button: "Confirm my email address",
    closing: [
      `The link is valid for ${describeLifetime(tokenLifetimes.verifyEmailSeconds)}. If you did not create a temetro account, ignore this email.`,
    ],
  });
}
