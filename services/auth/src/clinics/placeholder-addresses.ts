import type { BetterAuthPlugin } from "better-auth";
import { createAuthMiddleware } from "better-auth/api";
import { betterAuthRefusal, ErrorCode, HttpError } from "../errors.js";
import { isPlaceholderEmail, PLACEHOLDER_EMAIL_DOMAIN } from "./staff-store.js";

/**
 * The placeholder domain of staff accounts without an address (staff-store.ts) belongs to the
 * service alone. An address under it means "this account has no mailbox" (reset-by-username sends
 * nothing, a staff account is verified without a link): nobody may claim one for themselves, give
 * one to a staff account, or send an invitation to one, which a staff account holding that
 * placeholder could accept into another clinic.
 */

export function isReservedAddress(email: string): boolean {
  const domain = email.trim().toLowerCase().split("@").pop()!.replace(/\.$/, "");
  return domain === PLACEHOLDER_EMAIL_DOMAIN || domain.endsWith(`.${PLACEHOLDER_EMAIL_DOMAIN}`);
}

/**
 * The address an answer shows for an account: `null` for a placeholder, which is no mailbox and
 * must not look like one (get-session, sign-in, introspection and /api/staff all say `null`).
 */
export function shownAddress(email: string): string | null {
  return isPlaceholderEmail(email) ? null : email;
}

/**
 * A Better Auth answer with every placeholder `email` (its user, the users of a clinic's members,
 * at any depth) shown as `null`; the same object when there is none.
 */
export function withoutPlaceholderAddresses<T>(value: T): T {
  if (Array.isArray(value)) {
    const items = value.map((item) => withoutPlaceholderAddresses(item));
    return (items.some((item, index) => item !== value[index]) ? items : value) as T;
  }
  if (!value || typeof value !== "object" || value instanceof Date) return value;
  let changed = false;
  const entries = Object.entries(value).map(([key, field]) => {
    const shown = key === "email" && typeof field === "string" ? shownAddress(field) : withoutPlaceholderAddresses(field);
    if (shown !== field) changed = true;
    return [key, shown];
  });
  return changed ? (Object.fromEntries(entries) as T) : value;
}

/** 400 EMAIL_DOMAIN_RESERVED for an address under the placeholder domain (POST /api/staff). */
export function refuseReservedAddress(email: string | undefined): void {
  if (email !== undefined && isReservedAddress(email)) throw new HttpError(ErrorCode.EMAIL_DOMAIN_RESERVED);
}

/** Better Auth's routes that take an address someone will own or be sent to, and where it is in the body. */
const addressesByPath: Record<string, (body: Record<string, unknown>) => unknown> = {
  "/sign-up/email": (body) => body.email,
  "/change-email": (body) => body.newEmail,
  "/organization/invite-member": (body) => body.email,
};

export function placeholderAddressesReserved() {
  return {
    id: "temetro-placeholder-addresses",
    hooks: {
      before: [
        {
          matcher: (context: { path?: string }) => context.path !== undefined && Object.hasOwn(addressesByPath, context.path),
          handler: createAuthMiddleware(async (ctx) => {
            const body = ctx.body && typeof ctx.body === "object" ? (ctx.body as Record<string, unknown>) : {};
            const email = addressesByPath[ctx.path]!(body);
            if (typeof email === "string" && isReservedAddress(email)) throw betterAuthRefusal(ErrorCode.EMAIL_DOMAIN_RESERVED);
          }),
        },
      ],
    },
  } satisfies BetterAuthPlugin;
}
