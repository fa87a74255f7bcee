import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { errorCodes } from "@temetro/auth-client/errors";
import { ErrorCode, type ErrorBody } from "../errors.js";
import { EMAIL_RETRY_AFTER_SECONDS, EmailNotStoredError } from "../email/plugin.js";
import { sendDependencyDown } from "../plugins/errors.js";
import { watchDependencyFailures } from "./dependency-failures.js";
import { CLIENT_IP_HEADER } from "./options.js";

/**
 * One call into Better Auth's handler: a Fastify request becomes a Web `Request` (raw body, the
 * trusted client address, the public origin), and the Web `Response` becomes an answer that is
 * sent as it is, unless Better Auth met a failure it only logged.
 */

export interface BetterAuthAnswer {
  status: number;
  /** Every header but Set-Cookie and Content-Length. */
  headers: [string, string][];
  cookies: string[];
  body: Buffer | undefined;
  /** Better Auth logged a database failure while answering (see dependency-failures.ts). */
  dependencyFailed: boolean;
}

export async function askBetterAuth(
  app: FastifyInstance,
  publicOrigin: string,
  request: FastifyRequest,
  pathOverride?: string,
): Promise<BetterAuthAnswer> {
  const body = request.body instanceof Buffer && request.body.length > 0 ? request.body : undefined;
  const query = request.url.includes("?") ? request.url.slice(request.url.indexOf("?")) : "";
  // The public origin comes from configuration, never from the Host header: Better Auth builds
  // the links of emails from it. request.url is already canonical (request-path.ts): the URL parser
  // finds no dot segment or backslash left to resolve, so Better Auth routes on the path the budgets counted.
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

/**
 * Sends Better Auth's answer, unless Better Auth met a database failure it only logged: then the
 * operation may not have happened, whatever the answer says. Sign-out answers 200 and clears the
 * cookie when it could not delete the session (which would stay valid); sign-up answers 422
 * FAILED_TO_CREATE_USER when its insert was cut; get-session 500. Each becomes 503 with
 * Retry-After, its cookies dropped, so the client keeps what it has and tries again
 * (dependency-failures.ts).
 */
export function finishAnswer(request: FastifyRequest, reply: FastifyReply, answer: BetterAuthAnswer) {
  if (answer.dependencyFailed) {
    return sendDependencyDown(request, reply, new Error(`PostgreSQL failed while Better Auth answered ${answer.status}`));
  }
  if (answer.status >= 500 && answer.status !== 503) request.log.error({ status: answer.status }, "Better Auth answered with a server error");
  return sendAnswer(reply, answer);
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
