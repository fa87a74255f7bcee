import { isIP } from "node:net";
import * as z from "zod";
import { httpUrl } from "@temetro/shared";

const hostname = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/;

/**
 * COOKIE_DOMAIN: the parent domain whose subdomains share the session cookie (the web app on
 * app.clinic.example, this service on auth.clinic.example). Unset, the cookie belongs to this
 * service's host alone. It must contain BETTER_AUTH_URL's host: a browser drops a cookie set for a
 * domain the answering host is not part of, and every sign-in would silently fail.
 */
export const cookieDomainSettings = z
  .object({
    COOKIE_DOMAIN: z
      .string()
      .trim()
      .transform((value) => value.toLowerCase().replace(/^\./, ""))
      .optional(),
    BETTER_AUTH_URL: httpUrl.default("http://localhost:4000"),
  })
  .superRefine((vars, context) => {
    const domain = vars.COOKIE_DOMAIN;
    if (!domain) return;
    const problem = (message: string) => context.addIssue({ code: "custom", path: ["COOKIE_DOMAIN"], message });
    if (isIP(domain) !== 0 || !hostname.test(domain)) {
      return problem("must be a domain name of two labels or more (clinic.example), without scheme, port or path");
    }
    const host = new URL(vars.BETTER_AUTH_URL).hostname.toLowerCase();
    if (host !== domain && !host.endsWith(`.${domain}`)) {
      problem(`must be BETTER_AUTH_URL's host (${host}) or a parent domain of it`);
    }
  })
  .transform((vars) => ({
    /** The domain of the session cookie shared by sibling subdomains, or undefined: this host only. */
    cookieDomain: vars.COOKIE_DOMAIN || undefined,
  }));
