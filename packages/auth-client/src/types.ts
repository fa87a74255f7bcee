import type { Permissions } from "./roles.js";

/** The active clinic of a session, as introspection reports it. */
export interface SessionClinic {
  id: string;
  slug: string;
  name: string;
  role: string;
  permissions: Permissions;
}

/** A request authenticated by its session cookie, asked of the auth service's introspection. */
export interface SessionAuth {
  via: "session";
  user: {
    id: string;
    name: string;
    /** null: a staff account without an address (it signs in by username). */
    email: string | null;
    username: string | null;
    emailVerified: boolean;
    /** An admin-set initial password is still to be replaced: requireClinic refuses until it is. */
    mustChangePassword: boolean;
  };
  session: { id: string; expiresAt: string };
  clinic: SessionClinic | null;
}

/** A request authenticated by a short-lived JWT from GET /api/auth/token. */
export interface TokenAuth {
  via: "jwt";
  /** The token carries the subject and nothing else about the user. */
  user: { id: string };
  /** Permissions come from the role table for the token's role. */
  clinic: { id: string; role: string; permissions: Permissions } | null;
  token: { issuedAt: number; expiresAt: number };
}

/** Who a request belongs to; null when it carries no valid credentials. */
export type RequestAuth = SessionAuth | TokenAuth;
