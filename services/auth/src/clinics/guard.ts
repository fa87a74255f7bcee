import fp from "fastify-plugin";
import { grants, permissionsOf, type PermissionRequest, type Permissions } from "./roles.js";
import { ErrorCode, HttpError } from "../errors.js";

/** Who a data request belongs to, and in which clinic and role it acts. */
export interface ClinicContext {
  user: { id: string; name: string; email: string };
  session: { id: string; expiresAt: Date };
  clinic: { id: string; name: string; slug: string };
  role: string;
  permissions: Permissions;
  /** The clinic's settings that data routes act on. */
  settings: { staffMustChangePassword: boolean };
}

declare module "fastify" {
  interface FastifyContextConfig {
    /** What the caller's role must grant for this route, e.g. `{ patient: ["read"] }`. */
    permission?: PermissionRequest;
  }
  interface FastifyRequest {
    /** Set by the clinic guard on every data route before its handler runs. */
    clinicContext: ClinicContext;
  }
}

/**
 * The guard of every `/api/*` data route. Register it inside the data routes' scope; each route
 * then declares what it needs with `config: { permission }`:
 * 401 without a valid session, 403 without an active clinic, 403 when the user is not (or no
 * longer) a member of it, 403 while an admin-set initial password has not been replaced (when the
 * clinic asks for that), 403 when the role lacks the permission.
 */
export default fp(
  async (app) => {
    app.decorateRequest("clinicContext", null as unknown as ClinicContext);

    app.addHook("onRequest", async (request) => {
      // The session directory: PostgreSQL behind a cache that every change invalidates at once.
      const found = await app.sessions.fromCookie(request.headers.cookie);
      if (!found) throw new HttpError(401, ErrorCode.UNAUTHENTICATED, "Sign in first: no valid session");

      const clinicId = found.session.activeOrganizationId;
      if (!clinicId) {
        throw new HttpError(403, ErrorCode.NO_ACTIVE_CLINIC, "Choose a clinic first (POST /api/auth/organization/set-active)");
      }
      // Read on every request, not from the session: a removed member or changed role shows at once.
      const membership = await app.sessions.membership(found.user.id, clinicId);
      if (!membership) throw new HttpError(403, ErrorCode.NOT_A_CLINIC_MEMBER, "You are not a member of the active clinic");

      if (found.user.mustChangePassword && membership.staffMustChangePassword) {
        throw new HttpError(
          403,
          ErrorCode.PASSWORD_CHANGE_REQUIRED,
          "Replace the initial password first (POST /api/auth/change-password)",
        );
      }

      const permissions = permissionsOf(membership.role);
      const needed = request.routeOptions.config.permission;
      if (needed && !grants(permissions, needed)) {
        throw new HttpError(403, ErrorCode.FORBIDDEN, "Your role in this clinic does not allow this");
      }

      request.clinicContext = {
        user: { id: found.user.id, name: found.user.name, email: found.user.email },
        session: { id: found.session.id, expiresAt: found.session.expiresAt },
        clinic: membership.clinic,
        role: membership.role,
        permissions,
        settings: { staffMustChangePassword: membership.staffMustChangePassword },
      };
    });
  },
  { name: "clinic-guard", dependencies: ["sessions"] },
);
