import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { LRUCache } from "lru-cache";
import { CLIENT_IP_HEADER } from "./options.js";
import { ErrorCode, type ErrorBody } from "../errors.js";
import { errorCodes } from "@temetro/auth-client/errors";
import { watchDependencyFailures } from "./dependency-failures.js";
import { EMAIL_RETRY_AFTER_SECONDS, EmailNotStoredError } from "../email/plugin.js";
import { sendDependencyDown, sendError } from "../plugins/errors.js";
import { judgedPath } from "../request-path.js";
import { isHashingRequest, sendHashingBusy } from "../sign-in/hashing-admission.js";
import type { SessionRecord } from "../sessions/directory.js";

/**
 * Mounts Better Auth at /api/auth/*: a small adapter from a Fastify request to a Web `Request` and
 * back. Better Auth gets the raw body (it parses JSON and form bodies itself) and every
 * `Set-Cookie` it writes reaches the client.
 */
export default async function authRoutes(app: FastifyInstance) {
  const publicOrigin = new URL(app.config.betterAuthUrl).origin;

  // Encapsulated: only these routes receive raw bodies.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer" }, (_request, body, done) => done(null, body));

  const forward = (path?: string) => (request: FastifyRequest, reply: FastifyReply) =>
    handleWithBetterAuth(app, publicOrigin, request, reply, path);

  // The API page's name for what Better Auth now calls request-password-reset: same operation.
  app.post("/forget-password", forward("/api/auth/request-password-reset"));
  const sessionAnswers = createSessionAnswers();
  app.get("/get-session", (request, reply) => getSession(app, publicOrigin, sessionAnswers, request, reply));
  app.route({ method: ["GET", "POST"], url: "/*", handler: forward() });
}

/**
 * Better Auth's answers to get-session, kept per session token with the session directory's record
 * they describe: the directory hands out the same record object until something about the session
 * or its user changes (on any replica), so an answer kept with it is exactly what Better Auth would
 * say now, and one kept with an older record is never used. Answers that set a cookie (a refresh)
 * are never kept; a kept one lives no longer than the directory keeps its record
 * (SESSION_CACHE_TTL_SECONDS), after which Better Auth answers again and refreshes the session when
 * it is due. Bounded in bytes, whatever the sessions hold.
 */
export const SESSION_ANSWERS_MAX_BYTES = 16 * 1024 * 1024;

interface KeptAnswer {
  record: SessionRecord;
  headers: [string, string][];
  body: Buffer;
}

function createSessionAnswers() {
  return new LRUCache<string, KeptAnswer>({
    maxSize: SESSION_ANSWERS_MAX_BYTES,
    maxEntrySize: 64 * 1024,
    sizeCalculation: (answer, token) =>
      500 + 2 * token.length + answer.body.length + answer.headers.reduce((sum, [name, value]) => sum + 2 * (name.length + value.length), 0),
  });
}

async function getSession(
  app: FastifyInstance,
  publicOrigin: string,
  sessionAnswers: ReturnType<typeof createSessionAnswers>,
  request: FastifyRequest,
  reply: FastifyReply,
) {
  // Query options (disableCookieCache, disableRefresh) go to Better Auth as they are.
  const token = request.url.includes("?") ? null : app.sessions.tokenOf(request.headers.cookie);
  const record = token ? await app.sessions.fromToken(token) : null;
  const kept = token && record ? sessionAnswers.get(token) : undefined;
  if (kept && kept.record === record) {
    for (const [name, value] of kept.headers) reply.header(name, value);
    return reply.status(200).send(kept.body);
  }
  const answer = await askBetterAuth(app, publicOrigin, request);
  if (token && record && !answer.dependencyFailed && answer.status === 200 && answer.cookies.length === 0 && answer.body) {
    sessionAnswers.set(token, { record, headers: answer.headers, body: answer.body });
  }
  return finishAnswer(request, reply, answer);
}

async function handleWithBetterAuth(
  app: FastifyInstance,
  publicOrigin: string,
  request: FastifyRequest,
  reply: FastifyReply,
  pathOverride?: string,
) {
  const body = request.body instanceof Buffer && request.body.length > 0 ? request.body : undefined;
  if (body) {
    const problem = inspectBody(request.headers["content-type"], body);
    if (problem) return sendError(reply, 400, problem.code, problem.message);
  } else if (request.method === "POST" && bodyRequiredPaths.has(judgedPath(pathOverride ?? request.url))) {
    // Better Auth's username plugin reads fields of these bodies before validating them: no body
    // at all would be a TypeError deep inside (500).
    return sendError(reply, 400, ErrorCode.VALIDATION_ERROR, "A JSON object body is required");
  }
  let answer: BetterAuthAnswer;
  if (!isHashingRequest(request)) {
    answer = await askBetterAuth(app, publicOrigin, request, pathOverride);
  } else {
    // A request that will hash a password holds a hashing slot from now on, or is refused at once,
    // before any database work (sign-in/password-hasher.ts).
    const admitted = await app.passwordHasher.admit(() => askBetterAuth(app, publicOrigin, request, pathOverride));
    if (!admitted) return sendHashingBusy(request, reply, app.metrics.signIns);
    answer = admitted.value;
  }
  return finishAnswer(request, reply, answer);
}

/**
 * Sends Better Auth's answer, unless Better Auth met a database failure it only logged: then the
 * operation may not have happened, whatever the answer says. Sign-out answers 200 and clears the
 * cookie when it could not delete the session (which would stay valid); sign-up answers 422
 * FAILED_TO_CREATE_USER when its insert was cut; get-session 500. Each becomes 503 with
 * Retry-After, its cookies dropped, so the client keeps what it has and tries again
 * (dependency-failures.ts).
 */
function finishAnswer(request: FastifyRequest, reply: FastifyReply, answer: BetterAuthAnswer) {
  if (answer.dependencyFailed) {
    return sendDependencyDown(request, reply, new Error(`PostgreSQL failed while Better Auth answered ${answer.status}`));
  }
  if (answer.status >= 500 && answer.status !== 503) request.log.error({ status: answer.status }, "Better Auth answered with a server error");
  return sendAnswer(reply, answer);
}

/** Routes whose body Better Auth's username plugin reads before validation. */
const bodyRequiredPaths = new Set(["/api/auth/sign-up/email", "/api/auth/update-user"]);

interface BetterAuthAnswer {
  status: number;
  /** Every header but Set-Cookie and Content-Length. */
  headers: [string, string][];
  cookies: string[];
  body: Buffer | undefined;
  /** Better Auth logged a database failure while answering (see dependency-failures.ts). */
  dependencyFailed: boolean;
}

async function askBetterAuth(
  app: FastifyInstance,
  publicOrigin: string,
  request: FastifyRequest,
  pathOverride?: string,
): Promise<BetterAuthAnswer> {
  const body = request.body instanceof Buffer && request.body.length > 0 ? request.body : undefined;
  const query = request.url.includes("?") ? request.url.slice(request.url.indexOf("?")) : "";
  // The public origin comes from configuration, never from the Host header: Better Auth builds
  // the links of emails from it.
  const url = pathOverride ? `${publicOrigin}${pathOverride}${query}` : `${publicOrigin}${request.url}`;

  let response: Response;
  let dependencyFailed: boolean;
  try {
    // The emails Better Auth produces (verification, reset, invitation, notices) are stored in
    // one write after it answers and before this answer leaves: a 200 means they are durable.
    // A reset costs that write whether or not the account exists (its timing tells nothing).
    ({ value: response, dependencyFailed } = await app.withEmailsStored(
      () =>
        watchDependencyFailures(() =>
          app.auth.handler(
            new Request(url, {
              method: request.method,
              headers: toWebHeaders(request, publicOrigin),
              body: body ? new Uint8Array(body) : undefined,
            }),
          ),
        ),
      { decoy: new URL(url).pathname === RESET_REQUEST_PATH },
    ));
  } catch (error) {
    if (!(error instanceof EmailNotStoredError)) throw error;
    return emailNotStoredAnswer();
  }
  const headers: [string, string][] = [];
  response.headers.forEach((value, name) => {
    if (name !== "set-cookie" && name !== "content-length") headers.push([name, value]);
  });
  return {
    status: response.status,
    headers,
    cookies: response.headers.getSetCookie(),
    body: response.body ? Buffer.from(await response.arrayBuffer()) : undefined,
    dependencyFailed,
  };
}

/** Better Auth's path for a reset email (`forget-password` is forwarded to it). */
const RESET_REQUEST_PATH = "/api/auth/request-password-reset";

/**
 * Better Auth did its work but the email it produced could not be stored (PostgreSQL failing or
 * the outbox locked past the write timeout): the client is told to retry, never told it worked.
 * Better Auth's own answer is dropped, its cookies with it: a sign-up's account may exist without
 * a session on this client (signing in, or the retry's 422, tells it so; send-verification-email
 * asks for the email again); a reset's retry asks for a new link.
 */
function emailNotStoredAnswer(): BetterAuthAnswer {
  return {
    status: 503,
    headers: [
      ["retry-after", String(EMAIL_RETRY_AFTER_SECONDS)],
      ["content-type", "application/json; charset=utf-8"],
    ],
    cookies: [],
    body: Buffer.from(JSON.stringify({ code: ErrorCode.SERVICE_UNAVAILABLE, message: errorCodes.SERVICE_UNAVAILABLE.message })),
    dependencyFailed: false,
  };
}

function sendAnswer(reply: FastifyReply, answer: BetterAuthAnswer) {
  reply.status(answer.status);
  for (const [name, value] of answer.headers) reply.header(name, value);
  if (answer.cookies.length > 0) reply.header("set-cookie", answer.cookies);
  if (answer.status >= 400) return reply.send(errorBody(answer.status, answer.body));
  return answer.body && answer.body.length > 0 ? reply.send(answer.body) : reply.send();
}

function toWebHeaders(request: FastifyRequest, publicOrigin: string): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const item of value) headers.append(name, item);
    else headers.set(name, value);
  }
  // The only client address Better Auth sees is the one Fastify trusts (request.ip honours
  // TRUST_PROXY); a client cannot supply its own.
  headers.set(CLIENT_IP_HEADER, request.ip);
  // Better Auth refuses cookie-carrying POSTs without an Origin (CSRF defence). Browsers always
  // send Origin or Sec-Fetch-Site on such requests; a request with none of Origin, Referer and
  // Sec-Fetch-Site comes from a non-browser client (curl, another service), which CSRF cannot
  // involve, so it is treated as same-origin. Cross-site browser requests are still checked
  // against the trusted origins.
  if (!headers.has("origin") && !headers.has("referer") && !headers.has("sec-fetch-site")) {
    headers.set("origin", publicOrigin);
  }
  return headers;
}

// NUL cannot be stored in PostgreSQL text; a lone surrogate is not text at all.
const unstorableText = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * What Better Auth cannot be handed: JSON that does not parse, and strings it would fail on
 * deep inside (a database error, answered as a misleading 422 or 500).
 */
function inspectBody(contentType: string | undefined, body: Buffer): { code: ErrorCode; message?: string } | undefined {
  let strings: string[];
  if (contentType && /^application\/([\w.+-]+\+)?json\b/i.test(contentType)) {
    let value: unknown;
    try {
      value = JSON.parse(body.toString("utf8"));
    } catch {
      return { code: ErrorCode.INVALID_JSON };
    }
    // Every Better Auth route takes an object (or no body); `null`, a number or an array would
    // reach code that reads its fields.
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      const received = value === null ? "null" : Array.isArray(value) ? "array" : typeof value;
      return { code: ErrorCode.VALIDATION_ERROR, message: `Invalid body: expected object, received ${received}` };
    }
    strings = stringsIn(value);
  } else if (contentType && /^application\/x-www-form-urlencoded\b/i.test(contentType)) {
    strings = [...new URLSearchParams(body.toString("utf8")).entries()].flat();
  } else {
    return undefined; // Better Auth answers 415 itself
  }
  if (strings.some((text) => unstorableText.test(text))) {
    return { code: ErrorCode.INVALID_TEXT };
  }
  return undefined;
}

function stringsIn(value: unknown, found: string[] = []): string[] {
  if (typeof value === "string") found.push(value);
  else if (Array.isArray(value)) for (const item of value) stringsIn(item, found);
  else if (value && typeof value === "object") {
    for (const [key, item] of Object.entries(value)) {
      found.push(key);
      stringsIn(item, found);
    }
  }
  return found;
}

/**
 * Better Auth answers errors with `{ message, code }` (sometimes no body at all). Every error of
 * this service carries `{ error, code }`: add what is missing (the registry's code for the status
 * and that code's message), keep what Better Auth said.
 */
function errorBody(status: number, payload: Buffer | undefined): ErrorBody & { message: string } {
  let parsed: Record<string, unknown> = {};
  if (payload && payload.length > 0) {
    try {
      const value: unknown = JSON.parse(payload.toString("utf8"));
      if (value && typeof value === "object" && !Array.isArray(value)) parsed = value as Record<string, unknown>;
    } catch {
      // not JSON: replaced below
    }
  }
  const codeForStatus = defaultCode(status);
  const code = typeof parsed.code === "string" && parsed.code ? parsed.code : codeForStatus;
  const message = typeof parsed.message === "string" && parsed.message ? parsed.message : errorCodes[codeForStatus].message;
  return { ...parsed, error: message, code, message };
}

function defaultCode(status: number): ErrorCode {
  if (status === 404) return ErrorCode.NOT_FOUND;
  if (status === 401) return ErrorCode.UNAUTHENTICATED;
  if (status === 403) return ErrorCode.FORBIDDEN;
  if (status >= 500) return ErrorCode.INTERNAL_ERROR;
  return ErrorCode.BAD_REQUEST;
}
