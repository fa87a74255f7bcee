import fp from "fastify-plugin";
import { grants, permissionsOf, type PermissionRequest, type Permissions } from "./roles.js";
import { ErrorCode, HttpError } from "../errors.js";
import { mustReplaceInitialPassword } from "./initial-password.js";
import { isAct, recordRefusal, RefusalReason } from "./refusal-audit.js";
import { roleForbids } from "./refusals.js";

/** Who a data request belongs to, and in which clinic and role it acts. */
export interface ClinicContext {
  user: { id: string; name: string; email: string; emailVerified: boolean };
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
    // The API document (api-docs/) says which routes take the session cookie: the ones guarded here.
    app.addHook("onRoute", (route) => {
      route.schema = { ...route.schema, security: [{ sessionCookie: [] }] } as typeof route.schema;
    });

    app.addHook("onRequest", async (request) => {
      // The session directory: PostgreSQL behind a cache that every change invalidates at once.
      const found = await app.sessions.fromCookie(request.headers.cookie);
      if (!found) throw new HttpError(ErrorCode.UNAUTHENTICATED);

      const clinicId = found.session.activeOrganizationId;
      if (!clinicId) throw new HttpError(ErrorCode.NO_ACTIVE_CLINIC);
      // Read on every request, not from the session: a removed member or changed role shows at once.
      const membership = await app.sessions.membership(found.user.id, clinicId);
      if (!membership) throw new HttpError(ErrorCode.NOT_A_CLINIC_MEMBER);

      if (mustReplaceInitialPassword(found.user, membership)) {
        if (isAct(request.method)) {
          await recordRefusal(app.pg, request.log, {
            reason: RefusalReason.PASSWORD_CHANGE_REQUIRED,
            userId: found.user.id,
            clinicId,
            clientIp: request.ip,
            route: `${request.method} ${request.routeOptions.url ?? request.url}`,
          });
        }
        throw new HttpError(ErrorCode.PASSWORD_CHANGE_REQUIRED);
      }

      const permissions = permissionsOf(membership.role);
      const needed = request.routeOptions.config.permission;
      if (needed && !grants(permissions, needed)) throw roleForbids();

      request.clinicContext = {
        user: { id: found.user.id, name: found.user.name, email: found.user.email, emailVerified: found.user.emailVerified },
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
