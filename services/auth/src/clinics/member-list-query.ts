import type { BetterAuthPlugin } from "better-auth";
import { APIError, createAuthMiddleware } from "better-auth/api";
import { ErrorCode } from "../errors.js";

/**
 * Better Auth's list-members hands its `filterField`, `sortBy`, `limit` and `offset` to the
 * database as they come: an unknown field, a negative offset, an infinite limit, `in` with one
 * value, `eq` with several, or a LIKE pattern ending in its escape character failed there (a 500).
 * Refused here with 400 VALIDATION_ERROR naming the parameter. Only text columns filter (a
 * timestamp compared with any string would fail the same way).
 */
const filterableFields = new Set(["id", "organizationId", "userId", "role"]);
const sortableFields = new Set([...filterableFields, "createdAt"]);
const count = /^\d{1,9}$/;
const listOperators = new Set(["in", "not_in"]);
const patternOperators = new Set(["contains", "starts_with", "ends_with"]);

function problemWith(query: Record<string, unknown>): string | undefined {
  const { filterField, filterOperator, filterValue, sortBy, limit, offset } = query;
  if (filterField !== undefined) {
    if (!filterableFields.has(String(filterField))) return `filterField must be one of ${[...filterableFields].join(", ")}`;
    if (filterValue === undefined) return "filterValue is required with filterField";
    const several = Array.isArray(filterValue);
    if (several !== listOperators.has(String(filterOperator))) return "filterValue is a list exactly when filterOperator is in or not_in";
    if (patternOperators.has(String(filterOperator)) && String(filterValue).includes("\\")) return "filterValue may not hold a backslash";
  }
  if (sortBy !== undefined && !sortableFields.has(String(sortBy))) return `sortBy must be one of ${[...sortableFields].join(", ")}`;
  for (const [name, value] of [["limit", limit], ["offset", offset]] as const) {
    if (value !== undefined && !count.test(String(value))) return `${name} must be a whole number, 0 or more`;
  }
  return undefined;
}

export function memberListQuery() {
  return {
    id: "temetro-member-list-query",
    hooks: {
      before: [
        {
          matcher: (context: { path?: string }) => context.path === "/organization/list-members",
          handler: createAuthMiddleware(async (ctx) => {
            const problem = problemWith((ctx.query ?? {}) as Record<string, unknown>);
            if (problem) throw new APIError("BAD_REQUEST", { code: ErrorCode.VALIDATION_ERROR, message: `[query] ${problem}` });
          }),
        },
      ],
    },
  } satisfies BetterAuthPlugin;
}
