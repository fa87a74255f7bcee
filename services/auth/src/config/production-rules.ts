import * as z from "zod";

/**
 * What NODE_ENV=production requires beyond valid values: a real secret, a token on the internal
 * listener (introspection hands out who a session belongs to; metrics tell how sign-ins go) and a
 * public origin served over TLS (Better Auth marks cookies Secure only for an https BETTER_AUTH_URL,
 * and every emailed reset or verification link is built from it).
 */
export const productionRules = z
  .object({
    NODE_ENV: z.string().optional(),
    BETTER_AUTH_SECRET: z.string().optional(),
    BETTER_AUTH_URL: z.string().optional(),
    INTERNAL_TOKEN: z.string().optional(),
  })
  .transform((vars, context) => {
    if (vars.NODE_ENV !== "production") return {};
    const problem = (variable: string, message: string) => context.addIssue({ code: "custom", path: [variable], message });
    if (!vars.BETTER_AUTH_SECRET) {
      problem("BETTER_AUTH_SECRET", "required when NODE_ENV=production (32 characters or more, e.g. `openssl rand -base64 32`)");
    }
    if (!vars.INTERNAL_TOKEN) {
      problem(
        "INTERNAL_TOKEN",
        "required when NODE_ENV=production (32 characters or more): without it anyone who reaches the internal port introspects sessions and reads metrics",
      );
    }
    if (vars.BETTER_AUTH_URL === undefined) {
      problem("BETTER_AUTH_URL", "required when NODE_ENV=production: the service's public https:// origin (the default http://localhost:4000 is for development)");
    } else if (URL.canParse(vars.BETTER_AUTH_URL) && new URL(vars.BETTER_AUTH_URL).protocol !== "https:") {
      problem("BETTER_AUTH_URL", "must be an https:// URL when NODE_ENV=production: over http cookies are not Secure and emailed links travel in clear");
    }
    return {};
  });
