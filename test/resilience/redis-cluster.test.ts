// Issue 15, point 2: the Redis cases of the Sentinel suite on a three-primary Redis Cluster of this
// test's own. Two auth replicas and a mailer run as real processes under steady load: every 200
// sign-up and reset has exactly one email, no revoked session answers active on the other replica,
// a rate limit and an account lockout count across both replicas; and the keys land where the
// Cluster needs them: the email queue's keys and delivered marks in one slot (BullMQ's scripts and
// the relay's MULTI touch them together), each account's lockout keys in one slot (one script).
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import t from "tap";
import { RedisCluster } from "@temetro/test-support/redis-cluster";
import { waitUntil } from "@temetro/test-support/polling";
import { checkAfterFault, checkWholeRun } from "./fixtures/checks.js";
import { beginWindow } from "./fixtures/fault-window.js";
import { Deployment, ORIGIN } from "./fixtures/deployment.js";
import { PASSWORD } from "./fixtures/load.js";
import type { Replica } from "./fixtures/replica.js";

// Six processes to start, and up to 15 s of waiting for owed emails.
t.setTimeout(180_000);

/** The limit the test counts against: the load never asks for verification emails. */
const VERIFICATION_EMAILS_PER_WINDOW = 4;
/** LOCKOUT_THRESHOLD's default. */
const LOCKOUT_THRESHOLD = 10;

async function post(replica: Replica, path: string, body: object): Promise<number> {
  // A replica sheds with 503 and Retry-After while its hashing slots are taken by the load: asked
  // again, as a client would.
  for (let attempt = 1; ; attempt += 1) {
    const response = await fetch(`${replica.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: ORIGIN },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(20_000),
    });
    await response.arrayBuffer();
    if (response.status !== 503 || !response.headers.get("retry-after") || attempt === 50) return response.status;
    await sleep(200);
  }
}

t.test("two replicas and a mailer on a three-primary Redis Cluster", async (t) => {
  const cluster = await RedisCluster.start(t);
  const deployment = await Deployment.start(t, { redis: cluster, env: { RATE_LIMIT_VERIFICATION_EMAIL: String(VERIFICATION_EMAILS_PER_WINDOW) } });
  const { load, replicas, sink, prefix } = deployment;
  const [a, b] = replicas;
  load.start();
  await deployment.warmUp();

  await t.test("steady sign-ups, resets and sign-outs: every email once, no revoked session active on the other replica", async (t) => {
    const window = beginWindow(deployment, "steady load on the Cluster");
    await sleep(4000);
    await checkAfterFault(t, deployment, window);
  });

  await t.test("the email queue's keys and the delivered marks share one slot", async (t) => {
    const keys = await cluster.keysMatching(`{${prefix}}:*`);
    t.ok(keys.some(({ key }) => key.startsWith(`{${prefix}}:email:`)), "the queue's keys are under the hash-tagged prefix");
    t.ok(keys.some(({ key }) => key.startsWith(`{${prefix}}:mailer:delivered:`)), "so are the delivered marks");
    t.same([...new Set(keys.map(({ slot }) => slot))], [keys[0]!.slot], `all ${keys.length} in one slot`);
    t.same(await cluster.keysMatching(`${prefix}:email:*`), [], "no queue key outside the hash tag");
  });

  await t.test("a rate limit counts across the two replicas", async (t) => {
    const ask = (replica: Replica) => post(replica, "/api/auth/send-verification-email", { email: `limit-${randomUUID()}@example.com` });
    const answers = [await ask(a), await ask(b), await ask(a), await ask(b)];
    t.same(answers, [200, 200, 200, 200], `${VERIFICATION_EMAILS_PER_WINDOW} requests answered, two on each replica`);
    t.equal(await ask(a), 429, "the next is refused");
    t.ok((await cluster.keysMatching(`${prefix}:rate-limit:*`)).length > 0, "counted in the Cluster");
  });

  await t.test("an account lockout counts across the two replicas; its keys share one slot", async (t) => {
    const email = `lockout-${randomUUID()}@example.com`;
    t.equal(await post(a, "/api/auth/sign-up/email", { name: "Locked Out", email, password: PASSWORD }), 200, "the account signed up");
    for (let attempt = 0; attempt < LOCKOUT_THRESHOLD; attempt += 1) {
      t.equal(await post(attempt % 2 ? b : a, "/api/auth/sign-in/email", { email, password: "not-the-password-at-all" }), 401);
    }
    t.equal(await post(a, "/api/auth/sign-in/email", { email, password: PASSWORD }), 401, `${LOCKOUT_THRESHOLD} failures locked the account: the right password is refused`);
    await waitUntil(() => sink.to(email).some((message) => /locked/i.test(message.subject)), "the account-locked email", 15_000, 100);
    t.equal(sink.to(email).filter((message) => /locked/i.test(message.subject)).length, 1, "one account-locked email");
    const lockout = await cluster.keysMatching(`${prefix}:lockout:*`);
    t.ok(lockout.some(({ key }) => key.endsWith(":lock")), "the lock is in the Cluster");
    const byAccount = new Map<string, Set<number>>();
    for (const { key, slot } of lockout) {
      const account = /\{([0-9a-f]+)\}/.exec(key)?.[1] ?? key;
      byAccount.set(account, (byAccount.get(account) ?? new Set()).add(slot));
    }
    t.same([...byAccount.values()].filter((slots) => slots.size > 1), [], "each account's lockout keys in one slot");
  });

  await t.test("over the whole run: no email twice, no revoked session active again", async (t) => {
    await checkWholeRun(t, deployment);
  });
});
