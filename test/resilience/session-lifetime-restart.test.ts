// Sessions' idle and absolute ends (sessions/lifetime.ts) while PostgreSQL restarts under requests
// that would record a use, end a session or sign out, on two replicas: no 5xx but 503 with
// Retry-After, no session served past its end, no use served without being written down, no live
// session ended, and both replicas serve again by themselves once PostgreSQL is back.
import { setTimeout as sleep } from "node:timers/promises";
import type { FastifyInstance } from "fastify";
import t, { type Test } from "tap";
import { signUp } from "@temetro/test-support/auth-requests";
import { waitUntil } from "@temetro/test-support/polling";
import { replicasOnOwnPostgres, serverErrorsOf, type Answer } from "./fixtures/own-postgres-replicas.js";

t.setTimeout(180_000);

const IDLE_MS = 60_000;
/** A tenth of the idle time (lifetime.ts): a use older than this is written down. */
const TOUCH_EVERY_MS = 6_000;
const MAX_AGE_MS = 3600_000;

type Kind = "due" | "due-during" | "idle-ended" | "absolute-ended" | "ending-during" | "signing-out";

interface Sample {
  kind: Kind;
  email: string;
  cookie: string;
  userId: string;
  /** For "ending-during": when its idle end falls (never moved: it is only looked at). */
  endsAt?: number;
}

async function restartUnder(t: Test, mode: "fast" | "immediate") {
  const { postgres, replicas, sql } = await replicasOnOwnPostgres(t, {
    env: { SESSION_IDLE_MINUTES: "1", SESSION_MAX_AGE_HOURS: "1" },
  });
  const [a, b] = replicas.map((replica) => replica.app) as [FastifyInstance, FastifyInstance];

  const kinds: Kind[] = ["due", "due-during", "idle-ended", "absolute-ended", "ending-during", "signing-out"];
  const samples: Sample[] = [];
  for (const kind of kinds) {
    for (let i = 0; i < 3; i++) {
      const user = await signUp(i % 2 === 0 ? a : b, { name: `Sample ${kind}` });
      samples.push({ kind, email: user.email, cookie: user.cookie, userId: user.userId });
    }
  }
  // Each session's past, written as the rows would read after that much time (the update's
  // trigger tells both replicas): a use due to be written down now, or while PostgreSQL is away;
  // an idle or absolute end passed; an idle end that falls while PostgreSQL is away or just after.
  const now = Date.now();
  for (const [index, sample] of samples.entries()) {
    const step = (index % 3) * 700;
    const [updatedAt, createdAt] =
      sample.kind === "idle-ended"
        ? [now - IDLE_MS - 1000, now - IDLE_MS - 1000]
        : sample.kind === "absolute-ended"
          ? [now - 1000, now - MAX_AGE_MS - 1000]
          : sample.kind === "due-during"
            ? [now - TOUCH_EVERY_MS + 500 + step, now - IDLE_MS / 2]
            : sample.kind === "ending-during"
              ? [now - IDLE_MS + 700 + step, now - IDLE_MS]
              : [now - IDLE_MS / 2, now - IDLE_MS / 2];
    if (sample.kind === "ending-during") sample.endsAt = updatedAt + IDLE_MS;
    await sql(`UPDATE "session" SET "updatedAt" = $2, "createdAt" = $3 WHERE "userId" = $1`, [sample.userId, new Date(updatedAt), new Date(createdAt)]);
  }

  const answers: Answer[] = [];
  /** Per session: when the last request began that was answered 200 as a use of it. */
  const lastServedUse = new Map<string, number>();
  const endedServed: string[] = [];
  const signOuts: { sample: Sample; statusCode: number }[] = [];
  let running = true;
  let back = false;

  const ended = (kind: Kind) => kind === "idle-ended" || kind === "absolute-ended";
  const useOnce = async (app: FastifyInstance, sample: Sample) => {
    const began = Date.now();
    if (sample.kind === "ending-during") {
      // Only looked at (a look records no use), so its end stays where it was written.
      const look = await app.inject({ method: "GET", url: "/api/auth/get-session", headers: { cookie: sample.cookie } });
      answers.push(look);
      if (look.statusCode === 200 && look.json() !== null && began >= sample.endsAt!) endedServed.push(`a session looked at ${began - sample.endsAt!} ms after its idle end answered active`);
      return;
    }
    // A Better Auth route that acts with the session: the directory records the use first.
    const response = await app.inject({ method: "GET", url: "/api/auth/list-sessions", headers: { cookie: sample.cookie } });
    answers.push(response);
    if (response.statusCode === 200) {
      if (ended(sample.kind)) endedServed.push(`${sample.kind} served a use`);
      else lastServedUse.set(sample.userId, Math.max(lastServedUse.get(sample.userId) ?? 0, began));
    }
    const look = await app.inject({ method: "GET", url: "/api/auth/get-session", headers: { cookie: sample.cookie } });
    answers.push(look);
    if (look.statusCode === 200 && look.json() !== null && ended(sample.kind)) {
      endedServed.push(`${sample.kind} answered active`);
    }
  };

  const users = samples.filter((sample) => sample.kind !== "signing-out");
  const loops = [a, b].map(async (app, index) => {
    for (let round = 0; running; round++) {
      await Promise.all(users.filter((_, i) => (i + round + index) % 2 === 0).map((sample) => useOnce(app, sample)));
      await sleep(20);
    }
  });

  // Requests are in flight when the server goes down (a fast stop cuts their connections with
  // 57P01, an immediate one kills the server under them).
  await sleep(100);
  const stopping = postgres.stop(mode);
  // Sign-outs land while PostgreSQL goes down and is down, on both replicas.
  const signingOut = samples
    .filter((sample) => sample.kind === "signing-out")
    .map(async (sample, i) => {
      await sleep(i * 300);
      const app = i % 2 === 0 ? a : b;
      const response = await app.inject({ method: "POST", url: "/api/auth/sign-out", headers: { cookie: sample.cookie } });
      answers.push(response);
      signOuts.push({ sample, statusCode: response.statusCode });
    });
  await stopping;
  await sleep(2000);
  await Promise.all(signingOut);
  await postgres.start();
  back = true;

  // Both replicas serve again by themselves (no restart, no call to heal them).
  const live = samples.find((sample) => sample.kind === "due")!;
  for (const app of [a, b]) {
    await waitUntil(
      async () => (await app.inject({ method: "GET", url: "/api/auth/list-sessions", headers: { cookie: live.cookie } })).statusCode === 200,
      "a replica to serve a live session again once PostgreSQL is back",
      30_000,
      100,
    );
  }
  // One more use of every session on each replica, so every live one has a use answered after the fault.
  for (const app of [a, b]) await Promise.all(users.map((sample) => useOnce(app, sample)));
  running = false;
  await Promise.all(loops);
  t.ok(back);

  if (serverErrorsOf(answers).length > 0) {
    for (const replica of replicas) t.comment(JSON.stringify(replica.logs.lines.filter((line) => Number(line.level) >= 50).slice(0, 5)));
  }
  t.same(serverErrorsOf(answers), [], `no 5xx but 503 with Retry-After (${answers.length} answers, ${answers.filter((x) => x.statusCode === 503).length} of them 503)`);
  t.ok(answers.some((answer) => answer.statusCode === 503), "the restart was felt (some requests answered 503)");
  t.same(endedServed, [], "no session past its idle or absolute end was served or reported active");

  const rows = await sql<{ userId: string; updatedAt: Date }>(`SELECT "userId", "updatedAt" FROM "session"`);
  const rowOf = new Map(rows.map((row) => [row.userId, row]));
  for (const sample of samples) {
    const row = rowOf.get(sample.userId);
    if (sample.kind === "due" || sample.kind === "due-during") {
      t.ok(row, `a used session lives on (${sample.email})`);
      const served = lastServedUse.get(sample.userId);
      t.ok(served, "it was served during the run");
      // Every use served was written down, or followed one written less than TOUCH_EVERY_MS before it.
      t.ok(
        row && served && row.updatedAt.getTime() > served - TOUCH_EVERY_MS,
        `its last served use is recorded (updatedAt ${row?.updatedAt.toISOString()}, last served use began ${served && new Date(served).toISOString()})`,
      );
      for (const app of [a, b]) {
        const session = await app.inject({ method: "GET", url: "/api/auth/get-session", headers: { cookie: sample.cookie } });
        t.not(session.json(), null, "and it answers active on both replicas");
      }
    } else if (sample.kind === "signing-out") {
      const answer = signOuts.find((signOut) => signOut.sample === sample)!;
      if (answer.statusCode === 200) t.notOk(row, "a sign-out answered 200 ended the session");
      else {
        t.equal(answer.statusCode, 503, "a sign-out that could not happen answers 503");
        t.ok(row, "and the session is still there, as the 503 said");
      }
    } else if (sample.kind === "ending-during") {
      const session = await a.inject({ method: "GET", url: "/api/auth/get-session", headers: { cookie: sample.cookie } });
      t.equal(session.json(), null, "a session whose idle end fell during the restart answers ended");
    } else {
      for (const app of [a, b]) {
        const session = await app.inject({ method: "GET", url: "/api/auth/get-session", headers: { cookie: sample.cookie } });
        t.equal(session.json(), null, `an ${sample.kind} session answers ended on both replicas`);
      }
      const after = await sql(`SELECT 1 FROM "session" WHERE "userId" = $1`, [sample.userId]);
      t.same(after, [], `and its row is gone (${sample.kind})`);
    }
  }
  t.comment(`sign-outs during the restart: ${signOuts.map((signOut) => signOut.statusCode).join(", ")}`);
}

t.test("PostgreSQL restarted (pg_ctl -m fast) while sessions are used, end and sign out on two replicas", (t) => restartUnder(t, "fast"));
t.test("PostgreSQL crashed and restarted (pg_ctl -m immediate) while sessions are used, end and sign out on two replicas", (t) =>
  restartUnder(t, "immediate"),
);
