import type { BetterAuthPlugin } from "better-auth";
import { createAuthMiddleware } from "better-auth/api";
import { betterAuthRefusal, ErrorCode } from "../errors.js";

/**
 * A clinic's slug ends up in URLs, other services' routes and log lines: lowercase ASCII letters,
 * digits and hyphens only, so two clinics never differ by case or by a look-alike character, and
 * nothing in it needs escaping. Better Auth takes any string.
 */

const SLUG = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;

export const isValidSlug = (slug: string) => SLUG.test(slug);

/** Where Better Auth's routes take a slug, and how to find it in the body. */
const slugsByPath: Record<string, (body: Record<string, unknown>) => unknown> = {
  "/organization/create": (body) => body.slug,
  "/organization/update": (body) => (body.data && typeof body.data === "object" ? (body.data as Record<string, unknown>).slug : undefined),
};

export function clinicSlugRules() {
  return {
    id: "temetro-clinic-slugs",
    hooks: {
      before: [
        {
          matcher: (context: { path?: string }) => context.path !== undefined && Object.hasOwn(slugsByPath, context.path),
          handler: createAuthMiddleware(async (ctx) => {
            const body = ctx.body && typeof ctx.body === "object" ? (ctx.body as Record<string, unknown>) : {};
            const slug = slugsByPath[ctx.path]!(body);
            if (slug !== undefined && (typeof slug !== "string" || !isValidSlug(slug))) throw betterAuthRefusal(ErrorCode.INVALID_SLUG);
          }),
        },
      ],
    },
  } satisfies BetterAuthPlugin;
}
