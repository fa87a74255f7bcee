import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { LRUCache } from "lru-cache";
import type { SessionRecord } from "../sessions/directory.js";
import { askBetterAuth, finishAnswer } from "./handler-call.js";

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

export function createSessionAnswers() {
  return new LRUCache<string, KeptAnswer>({
    maxSize: SESSION_ANSWERS_MAX_BYTES,
    maxEntrySize: 64 * 1024,
    sizeCalculation: (answer, token) =>
      500 + 2 * token.length + answer.body.length + answer.headers.reduce((sum, [name, value]) => sum + 2 * (name.length + value.length), 0),
  });
}

export async function answerGetSession(
  app: FastifyInstance,
  publicOrigin: string,
  sessionAnswers: ReturnType<typeof createSessionAnswers>,
  request: FastifyRequest,
  reply: FastifyReply,
) {
  // Asking who one is does not count as use (an open tab may poll it), but an ended session is
  // deleted here, before Better Auth is asked.
  const token = app.sessions.tokenOf(request.headers.cookie);
  const record = token ? await app.sessions.fromToken(token, "look") : null;
  // Query options (disableCookieCache, disableRefresh) go to Better Auth as they are.
  const kept = token && record && !request.url.includes("?") ? sessionAnswers.get(token) : undefined;
  if (kept && kept.record === record) {
    for (const [name, value] of kept.headers) reply.header(name, value);
    return reply.status(200).send(kept.body);
  }
  const answer = await askBetterAuth(app, publicOrigin, request);
  if (token && record && !request.url.includes("?") && !answer.dependencyFailed && answer.status === 200 && answer.cookies.length === 0 && answer.body) {
    sessionAnswers.set(token, { record, headers: answer.headers, body: answer.body });
  }
  return finishAnswer(request, reply, answer);
}
