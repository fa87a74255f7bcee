// Refusals whose timing is evened (auth/even-timing.ts) and the reset cover
// (auth/reset-request-cover.ts, auth/reset-by-username.ts) with Redis away, then with PostgreSQL
// away, on two replicas: a known and an unknown account get the same answer (status, body,
// headers), never a hang and never a 500; a reset answered 503 leaves no email owed; and requests
// arriving together while a dependency is away all answer (the padding holds none past its bound).
import { performance } from "node:perf_hooks";
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import t, { type Test } from "tap";
import { signUp, uniqueEmail, uniqueUsername } from "@temetro/test-support/auth-requests";
import { waitUntil } from "@temetro/test-support/polling";
import { SpareRedis } from "@temetro/test-support/spare-redis";
import { replicasOnOwnPostgres, serverErrorsOf } from "./fixtures/own-postgres-replicas.js";

t.setTimeout(180_000);

/** Headers that differ between any two answers, whatever the account: not an oracle. */
const VARYING_HEADERS = new Set(["date", "x-request-id"]);

let nextAddress = 1;
/** Each request from an address of its own: the rate limits' counts (and their headers) then match. */
const freshAddress = () => `198.51.100.${nextAddress++ % 250}`;

interface Pair {
  what: string;
  known: () => Promise<LightMyRequestResponse>;
  unknown: () => Promise<LightMyRequestResponse>;
}

function comparable(response: LightMyRequestResponse) {
  const headers = Object.fromEntries(Object.entries(response.headers).filter(([name]) => !VARYING_HEADERS.has(name)));
  return { status: response.statusCode, body: response.body, headers };
}

/** Known and unknown accounts, asked the same way on one replica. */
function pairsOn(app: FastifyInstance, known: { email: string; username: string }): Pair[] {
  const post = (url: string, payload: object) => () => app.inject({ method: "POST", url, payload, remoteAddress: freshAddress() });
  return [
    {
      what: "sign-in by email with a wrong password",
      known: post("/api/auth/sign-in/email", { email: known.email, password: "not-the-password" }),
      unknown: post("/api/auth/sign-in/email", { email: uniqueEmail("nobody"), password: "not-the-password" }),
    },
    {
      what: "sign-in by username with a wrong password",
      known: post("/api/auth/sign-in/username", { username: known.username, password: "not-the-password" }),
      unknown: post("/api/auth/sign-in/username", { username: uniqueUsername("nobody"), password: "not-the-password" }),
    },
    {
      what: "a reset request by address",
      known: post("/api/auth/request-password-reset", { email: known.email }),
      unknown: post("/api/auth/request-password-reset", { email: uniqueEmail("nobody") }),
    },
    {
      what: "a reset request by username",
      known: post("/api/auth-helpers/reset-by-username", { username: known.username }),
      unknown: post("/api/auth-helpers/reset-by-username", { username: uniqueUsername("nobody") }),
    },
  ];
}

/** Runs each pair on each replica; returns every answer. Each request must answer (bounded), never a hang. */
async function checkPairs(t: Test, apps: FastifyInstance[], known: { email: string; username: string }, away: string) {
  const answers: { what: string; response: LightMyRequestResponse }[] = [];
  for (const [index, app] of apps.entries()) {
    for (const pair of pairsOn(app, known)) {
      const [knownAnswer, unknownAnswer] = [await bounded(pair.known()), await bounded(pair.unknown())];
      answers.push({ what: pair.what, response: knownAnswer }, { what: pair.what, response: unknownAnswer });
      t.same(comparable(knownAnswer), comparable(unknownAnswer), `${away}, replica ${index + 1}: ${pair.what} answers alike for a known and an unknown account (${knownAnswer.statusCode})`);
    }
  }
  t.same(serverErrorsOf(answers.map((answer) => answer.response)), [], `${away}: no 5xx but 503 with Retry-After`);
  return answers;
}

/** A request answers within 30 s (a hang fails the test, its speed is not judged). */
async function bounded<T>(work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("no answer within 30 s: the request hangs")), 30_000);
  });
  try {
    return await Promise.race([work, hang]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Twelve refusals at once while a dependency is away (fewer than the sixteen hashing slots the test
 * configuration gives, so none is shed as busy): every one answers, alike; the slowest is reported.
 */
async function refusalsTogether(t: Test, app: FastifyInstance, known: { email: string }, away: string) {
  const began = performance.now();
  const took: number[] = [];
  const responses = await bounded(
    Promise.all(
      Array.from({ length: 12 }, async (_, i) => {
        const response = await app.inject({
          method: "POST",
          url: "/api/auth/sign-in/email",
          payload: { email: i % 2 === 0 ? known.email : uniqueEmail("nobody"), password: "not-the-password" },
          remoteAddress: freshAddress(),
        });
        took.push(performance.now() - began);
        return response;
      }),
    ),
  );
  t.same([...new Set(responses.map((response) => response.statusCode))].length, 1, `${away}: twelve refusals at once answer alike`);
  t.same(serverErrorsOf(responses), [], `${away}: none of them a 5xx but 503`);
  t.comment(`${away}: twelve sign-in refusals at once: ${responses[0]!.statusCode}, the last answered after ${Math.round(Math.max(...took))} ms`);
}

t.test("known and unknown accounts answer alike with Redis away, then with PostgreSQL away", async (t) => {
  const redis = await SpareRedis.start(t);
  const { postgres, replicas, sql } = await replicasOnOwnPostgres(t, { env: { REDIS_URL: redis.url } });
  const apps = replicas.map((replica) => replica.app);
  const [a] = apps as [FastifyInstance];
  const username = uniqueUsername("known");
  const known = { ...(await signUp(a, { username })), username };

  // Warm-up: each replica has a history of refusals and resets to even against.
  await checkPairs(t, apps, known, "all up");

  await t.test("Redis away", async (t) => {
    await redis.down();
    await waitUntil(() => apps.every((app) => app.limiterStore.redis.status !== "ready"), "both replicas to see Redis gone");
    await checkPairs(t, apps, known, "Redis away");
    await refusalsTogether(t, a, known, "Redis away");
    await redis.up();
    await waitUntil(() => apps.every((app) => app.limiterStore.redis.status === "ready"), "both replicas to reconnect", 30_000);
  });

  await t.test("PostgreSQL away", async (t) => {
    const before = await sql<{ n: string }>(`SELECT count(*) AS n FROM email_outbox WHERE job->>'to' = $1`, [known.email]);
    await postgres.stop("fast");
    const answers = await checkPairs(t, apps, known, "PostgreSQL away");
    await refusalsTogether(t, a, known, "PostgreSQL away");
    await postgres.start();
    t.ok(answers.every((answer) => answer.response.statusCode === 503), "every one of them says 503, retry later");
    const after = await sql<{ n: string }>(`SELECT count(*) AS n FROM email_outbox WHERE job->>'to' = $1`, [known.email]);
    t.same(after, before, "a reset answered 503 left no email owed to the account");
    // Back by itself: the same requests answer as before the fault.
    await waitUntil(
      async () => (await a.inject({ method: "POST", url: "/api/auth/request-password-reset", payload: { email: uniqueEmail("nobody") }, remoteAddress: freshAddress() })).statusCode === 200,
      "reset requests to be answered again",
      30_000,
      100,
    );
    await checkPairs(t, apps, known, "PostgreSQL back");
  });
});
