import type { BetterAuthPlugin } from "better-auth";
import { createAuthMiddleware } from "better-auth/api";
import { ErrorCode, HttpError } from "../errors.js";
import { refusingForBetterAuth } from "../clinics/refusals.js";

/**
 * People's and clinics' names reach other people: in lists, and in emails to their mailboxes (an
 * invitation names the inviter and the clinic). So a name is bounded and carries nothing that
 * changes how the text around it reads: no control characters (line breaks, which would forge lines
 * of an email), no bidirectional embeddings or overrides (which reorder the text after them). The same rule on
 * every entrance that names someone: sign-up, update-user, organization create/update, /api/staff.
 */

export const MAX_NAME_LENGTH = 100;

// Bidirectional isolates (U+2066-2069) stay allowed: they keep a name's direction to itself.
const unreadable = /[\p{Cc}\u2028\u2029\u202a-\u202e]/u;

/** 400 INVALID_NAME unless `name` is 1 to 100 characters (code points) without control characters. */
export function refuseBadName(name: unknown): void {
  if (name === undefined) return;
  if (typeof name !== "string") throw new HttpError(ErrorCode.INVALID_NAME);
  const length = [...name].length;
  if (name.trim() === "" || length > MAX_NAME_LENGTH || unreadable.test(name)) throw new HttpError(ErrorCode.INVALID_NAME);
}

/** Where Better Auth's routes take a name, and how to find it in the body. */
const namesByPath: Record<string, (body: Record<string, unknown>) => unknown> = {
  "/sign-up/email": (body) => body.name,
  "/update-user": (body) => body.name,
  "/organization/create": (body) => body.name,
  "/organization/update": (body) => (body.data as Record<string, unknown> | undefined)?.name,
};

export function nameRules() {
  return {
    id: "temetro-name-rules",
    hooks: {
      before: [
        {
          matcher: (context: { path?: string }) => context.path !== undefined && Object.hasOwn(namesByPath, context.path),
          handler: createAuthMiddleware(async (ctx) => {
            const body = ctx.body && typeof ctx.body === "object" ? (ctx.body as Record<string, unknown>) : {};
            await refusingForBetterAuth(() => refuseBadName(namesByPath[ctx.path]!(body)));
          }),
        },
      ],
    },
  } satisfies BetterAuthPlugin;
}
