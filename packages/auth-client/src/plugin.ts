import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from "fastify";
import fp from "fastify-plugin";
import { checkClinic, checkPermission, checkSession, createAuthenticator, type AuthClientOptions } from "./authenticator.js";
import { AuthRefusal, refusals, responseOf } from "./errors.js";
import type { ClinicalPermissionRequest } from "./roles.js";
import type { RequestAuth } from "./types.js";

export interface TemetroAuthOptions extends AuthClientOptions {}

export interface TemetroAuth {
  /** Who the request belongs to (null: nobody); resolved once per request. Throws AuthRefusal (401, 503). */
  resolve(request: FastifyRequest): Promise<RequestAuth | null>;
  /**
   * Who the request's session cookie belongs to, asked of the auth service now (no cache, no
   * bearer token); the request's other hooks then see this answer. Throws AuthRefusal (401, 503).
   */
  resolveLive(request: FastifyRequest): Promise<RequestAuth | null>;
}

declare module "fastify" {
  interface FastifyInstance {
    temetroAuth: TemetroAuth;
  }
  interface FastifyRequest {
    /**
     * Who the request belongs to, filled by `authenticate`, `requireSession`, `requireClinic` or
     * `requirePermission`; null when it carries no valid session or token, undefined before.
     */
    auth: RequestAuth | null | undefined;
  }
}

const resolving = Symbol("temetro-auth.resolving");
const resolvedLive = Symbol("temetro-auth.resolved-live");
type ResolvingRequest = FastifyRequest & { [resolving]?: Promise<RequestAuth | null>; [resolvedLive]?: true };

/**
 * Registers the client: `app.temetroAuth` and `request.auth`. Encapsulation-free (fastify-plugin),
 * so the hooks work in every scope of the service. Resolving is lazy: only routes with one of the
 * hooks ask the auth service.
 */
async function temetroAuthPlugin(app: FastifyInstance, options: TemetroAuthOptions) {
  const authenticator = createAuthenticator(options);

  app.decorateRequest("auth", undefined);
  app.decorate("temetroAuth", {
    resolve(request) {
      const pending = request as ResolvingRequest;
      pending[resolving] ??= authenticator.authenticate(request.headers, request.log).then((auth) => (request.auth = auth));
      return pending[resolving];
    },
    resolveLive(request) {
      const pending = request as ResolvingRequest;
      if (pending[resolvedLive]) return pending[resolving]!;
      pending[resolvedLive] = true;
      pending[resolving] = authenticator.authenticateLive(request.headers, request.log).then((auth) => (request.auth = auth));
      return pending[resolving];
    },
  } satisfies TemetroAuth);
}

export const temetroAuth = fp(temetroAuthPlugin, { fastify: "5.x", name: "@temetro/auth-client" });
export default temetroAuth;

/** Answers the refusal directly, whatever error handler the service has. */
function sendRefusal(reply: FastifyReply, refusal: AuthRefusal): FastifyReply {
  const { statusCode, headers, body } = responseOf(refusal);
  return reply.code(statusCode).headers(headers).send(body);
}

/** Runs a check on the resolved auth; answers the refusal itself (401/403/503) when it fails. */
function guard(check: (auth: RequestAuth | null) => void, live = false): onRequestAsyncHookHandler {
  return async function temetroAuthGuard(this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) {
    const client = request.server.temetroAuth as TemetroAuth | undefined;
    if (!client) throw new Error("register @temetro/auth-client (app.register(temetroAuth, options)) before using its hooks");
    try {
      check(await (live ? client.resolveLive(request) : client.resolve(request)));
    } catch (error) {
      if (error instanceof AuthRefusal) return sendRefusal(reply, error);
      throw error;
    }
  };
}

/** Fills `request.auth` (null without valid credentials) and refuses nothing but an outage (503). */
export const authenticate: onRequestAsyncHookHandler = guard(() => {});

/** 401 UNAUTHENTICATED without a valid session cookie or bearer token. */
export const requireSession: onRequestAsyncHookHandler = guard(checkSession);

/**
 * For sensitive writes: 401 UNAUTHENTICATED unless the request's session cookie belongs to a session
 * the auth service says is live now. A bearer token is not enough (it outlives a sign-out, a
 * removal or a role change by up to its 5 minutes), and no cached answer is used. Put it first:
 * `onRequest: [requireLiveSession, requirePermission(...)]`; the hooks after it judge the live answer.
 */
export const requireLiveSession: onRequestAsyncHookHandler = guard((auth) => {
  if (!auth) throw refusals.liveSessionRequired();
}, true);

/**
 * requireSession, then 403 NO_ACTIVE_CLINIC without an active clinic the user is a member of, and
 * 403 PASSWORD_CHANGE_REQUIRED while an admin-set initial password has not been replaced.
 */
export const requireClinic: onRequestAsyncHookHandler = guard(checkClinic);

/** requireClinic, then 403 FORBIDDEN unless the role grants every action asked, e.g. `{ patient: ["read"] }`. */
export function requirePermission(permission: ClinicalPermissionRequest): onRequestAsyncHookHandler {
  return guard((auth) => checkPermission(auth, permission));
}
