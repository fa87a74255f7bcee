import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { ErrorCode } from "../errors.js";
import { sendError } from "../plugins/errors.js";
import { pathOf } from "../request-path.js";
import { isHashingRequest, sendHashingBusy } from "../sign-in/hashing-admission.js";
import type { EvenedAnswer } from "./even-timing.js";
import { askBetterAuth, finishAnswer, type BetterAuthAnswer } from "./handler-call.js";
import { bodyRequiredPaths, inspectBody } from "./request-body.js";
import { answerGetSession, createSessionAnswers } from "./session-answers.js";

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

  // Every other Better Auth route acts with the session it is given: the directory ends it first
  // when its idle or absolute time is up (Better Auth then finds none), or records the use.
  app.addHook("preHandler", async (request) => {
    if (request.routeOptions.url !== "/api/auth/get-session") await app.sessions.fromCookie(request.headers.cookie, "use");
  });

  const forward = (path?: string) => (request: FastifyRequest, reply: FastifyReply) =>
    handleWithBetterAuth(app, publicOrigin, request, reply, path);

  // The API page's name for what Better Auth now calls request-password-reset: same operation.
  app.post("/forget-password", forward("/api/auth/request-password-reset"));
  const sessionAnswers = createSessionAnswers();
  app.get("/get-session", (request, reply) => answerGetSession(app, publicOrigin, sessionAnswers, request, reply));
  app.route({ method: ["GET", "POST"], url: "/*", handler: forward() });
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
  } else if (request.method === "POST" && bodyRequiredPaths.has(pathOf(pathOverride ?? request.url))) {
    // Better Auth's username plugin reads fields of these bodies before validating them: no body
    // at all would be a TypeError deep inside (500).
    return sendError(reply, 400, ErrorCode.VALIDATION_ERROR, "A JSON object body is required");
  }
  const startedAt = app.evenTiming.start();
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
  const evened = evenedAnswer(pathOf(pathOverride ?? request.url), answer.status);
  if (evened) await app.evenTiming.hold(evened, startedAt);
  return finishAnswer(request, reply, answer);
}

/** Which answers must not tell by their timing which case they are (auth/even-timing.ts). */
function evenedAnswer(path: string, status: number): EvenedAnswer | undefined {
  // Locked, unknown and wrong all answer 401: only the refusal is evened, a success tells nothing new.
  if ((path === "/api/auth/sign-in/email" || path === "/api/auth/sign-in/username") && status === 401) return "sign-in-refusal";
  if (path === "/api/auth/request-password-reset" && status === 200) return "reset-request";
  return undefined;
}
