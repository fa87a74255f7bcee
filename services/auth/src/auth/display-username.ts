import type { BetterAuthPlugin } from "better-auth";
import { APIError, createAuthMiddleware, getSessionFromCtx } from "better-auth/api";
import { USERNAME_ERROR_CODES } from "better-auth/plugins/username";
import { isValidUsername } from "./schema.js";

/**
 * A display username is the account's own username, in any case ("FrontDesk" for "frontdesk"),
 * never a name of its own: Better Auth's username plugin lets sign-up and update-user set it
 * freely, so an account could show another's username (or a staff member's) in member lists.
 * update-user that changes the username changes its display form with it.
 */

const SIGN_UP = "/sign-up/email";
const UPDATE_USER = "/update-user";

const notOwnUsername = () =>
  new APIError("BAD_REQUEST", {
    code: USERNAME_ERROR_CODES.INVALID_DISPLAY_USERNAME.code,
    message: "The display username must be the username itself (only its letter case may differ)",
  });

export function displayUsernameIsUsername() {
  return {
    id: "temetro-display-username",
    hooks: {
      before: [
        {
          matcher: (context: { path?: string }) => context.path === SIGN_UP || context.path === UPDATE_USER,
          handler: createAuthMiddleware(async (ctx) => {
            const body = (ctx.body ?? {}) as Record<string, unknown>;
            const requested = typeof body.username === "string" ? body.username : undefined;
            if (typeof body.displayUsername !== "string") {
              if (ctx.path === UPDATE_USER && requested !== undefined) body.displayUsername = requested;
              return;
            }
            const display = body.displayUsername;
            // Without a username, sign-up makes the display username the username (when it is a valid one).
            const username =
              requested ??
              (ctx.path === SIGN_UP
                ? isValidUsername(display) ? display : undefined
                : ((await getSessionFromCtx(ctx))?.user as { username?: string | null } | undefined)?.username ?? undefined);
            if (username === undefined || username.toLowerCase() !== display.toLowerCase()) throw notOwnUsername();
          }),
        },
      ],
    },
  } satisfies BetterAuthPlugin;
}
