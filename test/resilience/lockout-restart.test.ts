// The per-account lockout (sign-in/lockout.ts) while PostgreSQL restarts, on two replicas: each
// wrong password answered 401 is counted against its account (by email or by username alike),
// never under the name that was typed; a sign-in whose account could not be looked up answers 503,
// not 401; and another account signing in meanwhile is neither counted nor locked.
import { setTimeout as sleep } from "node:timers/promises";
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import t, { type Test } from "tap";
import { PASSWORD, signUp, uniqueUsername } from "@temetro/test-support/auth-requests";
import { waitUntil } from "@temetro/test-support/polling";
import { replicasOnOwnPostgres, serverErrorsOf } from "./fixtures/own-postgres-replicas.js";

t.setTimeout(180_000);

const THRESHOLD = 60;

async function restartUnder(t: Test, mode: "fast" | "immediate") {
  const { postgres, replicas } = await replicasOnOwnPostgres(t, { env: { LOCKOUT_THRESHOLD: String(THRESHOLD) } });
  const [a, b] = replicas.map((replica) => replica.app) as [FastifyInstance, FastifyInstance];
  const targetName = uniqueUsername("target");
  const target = { ...(await signUp(a, { username: targetName })), username: targetName };
  const bystanderName = uniqueUsername("bystander");
  const bystander = { ...(await signUp(b, { username: bystanderName })), username: bystanderName };

  const wrongAnswers: LightMyRequestResponse[] = [];
  const rightAnswers: LightMyRequestResponse[] = [];
  let address = 0;
  const attempt = (app: FastifyInstance, spelling: number, password: string, who: typeof target) =>
    app.inject({
      method: "POST",
      url: spelling % 2 === 0 ? "/api/auth/sign-in/email" : "/api/auth/sign-in/username",
      payload: spelling % 2 === 0 ? { email: who.email.toUpperCase(), password } : { username: who.username, password },
      remoteAddress: `203.0.113.${address++ % 250}`,
    });

  let running = true;
  const loops = [a, b].map(async (app, index) => {
    for (let i = index; running; i++) {
      const [wrong, right] = await Promise.all([attempt(app, i, "not-the-password", target), attempt(app, i, PASSWORD, bystander)]);
      wrongAnswers.push(wrong);
      rightAnswers.push(right);
      // Fewer wrong passwords than the threshold, whatever the pace of this machine.
      if (wrongAnswers.filter((answer) => answer.statusCode === 401).length >= THRESHOLD / 2) break;
      await sleep(30);
    }
  });

  await sleep(300);
  await postgres.stop(mode);
  await sleep(1500);
  await postgres.start();
  await waitUntil(
    async () => (await attempt(a, 0, PASSWORD, bystander)).statusCode === 200 && (await attempt(b, 1, PASSWORD, bystander)).statusCode === 200,
    "both replicas to sign in again once PostgreSQL is back",
    30_000,
    100,
  );
  running = false;
  await Promise.all(loops);

  const answers = [...wrongAnswers, ...rightAnswers];
  t.same(serverErrorsOf(answers), [], `no 5xx but 503 with Retry-After (${answers.length} sign-ins)`);
  const statuses = (list: LightMyRequestResponse[]) => [...new Set(list.map((answer) => answer.statusCode))].sort();
  t.ok(wrongAnswers.some((answer) => answer.statusCode === 503), "the restart was felt: some wrong passwords answered 503");
  t.same(statuses(wrongAnswers).filter((status) => status !== 401 && status !== 503), [], "a wrong password answers 401, or 503 when it could not be checked: never anything else");
  t.same(statuses(rightAnswers).filter((status) => status !== 200 && status !== 503), [], "the right password answers 200, or 503: never a 401 for a lookup that could not be made");

  const counted = wrongAnswers.filter((answer) => answer.statusCode === 401).length;
  t.comment(`wrong passwords: ${counted} answered 401, ${wrongAnswers.length - counted} answered 503`);
  for (const name of [`email:${target.email.toLowerCase()}`, `username:${target.username.toLowerCase()}`]) {
    t.equal((await a.accountLockout.state(name)).recorded, false, `nothing counted under the name typed (${name.split(":")[0]})`);
  }
  const accountKey = `account:${target.userId}`;
  t.equal(await a.accountLockout.remainingLockMs(accountKey), 0, "not locked yet");
  // Exactly the 401s were counted against the account: the rest of the threshold locks it, no sooner.
  for (let i = counted; i < THRESHOLD - 1; i++) {
    t.equal((await attempt(i % 2 === 0 ? a : b, i, "not-the-password", target)).statusCode, 401);
  }
  t.equal(await a.accountLockout.remainingLockMs(accountKey), 0, `${THRESHOLD - 1} failures in all: not locked`);
  t.equal((await attempt(b, 0, "not-the-password", target)).statusCode, 401);
  t.ok((await a.accountLockout.remainingLockMs(accountKey)) > 0, `the ${THRESHOLD}th failure locks the account`);

  const bystanderKey = `account:${bystander.userId}`;
  t.equal((await b.accountLockout.state(bystanderKey)).recorded, false, "the other account has nothing counted against it");
  t.equal((await attempt(a, 0, PASSWORD, bystander)).statusCode, 200, "and signs in");
}

t.test("wrong passwords during a PostgreSQL restart (fast) count against their account, and only theirs", (t) => restartUnder(t, "fast"));
t.test("wrong passwords during a PostgreSQL crash and restart (immediate) count against their account, and only theirs", (t) =>
  restartUnder(t, "immediate"),
);
