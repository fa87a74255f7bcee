// Redis stopped: requests are still served and limited, per replica, and the outage is visible;
// Redis back: the shared counts take over again.
import type { FastifyInstance } from "fastify";
import t from "tap";
import { buildReplicas, productionLimits } from "@temetro/test-support/auth-app";
import { uniqueEmail } from "@temetro/test-support/auth-requests";
import { waitUntil } from "@temetro/test-support/polling";
import { SpareRedis } from "@temetro/test-support/spare-redis";

const signInFrom = (app: FastifyInstance, remoteAddress: string) =>
  app.inject({
    method: "POST",
    url: "/api/auth/sign-in/email",
    payload: { email: uniqueEmail("guess"), password: "not-the-password" },
    remoteAddress,
  });

async function statusesOf(sends: (() => Promise<{ statusCode: number }>)[]) {
  const statuses = [];
  for (const send of sends) statuses.push((await send()).statusCode);
  return statuses;
}

t.test("limits survive a Redis outage per replica and are shared again when it returns", async (t) => {
  const redis = await SpareRedis.start(t);
  const replicas = await buildReplicas(t, 2, { env: { ...productionLimits, REDIS_URL: redis.url } });
  const [a, b] = replicas.map((replica) => replica.app) as [FastifyInstance, FastifyInstance];
  const logsOfA = replicas[0]!.logs;

  // Up: one count for both replicas.
  const before = "203.0.113.80";
  t.same(await statusesOf([a, b, a, b, a, b].map((app) => () => signInFrom(app, before))), [401, 401, 401, 401, 401, 429]);
  t.equal(a.limiterStore.status.shared, true);

  await redis.down();
  await waitUntil(() => a.limiterStore.redis.status !== "ready" && b.limiterStore.redis.status !== "ready", "both replicas to see Redis gone");

  // Down: each replica counts for itself; a sixth attempt on one replica is still refused.
  const during = "203.0.113.81";
  t.same(await statusesOf([1, 2, 3, 4, 5, 6].map(() => () => signInFrom(a, during))), [401, 401, 401, 401, 401, 429], "limited on replica A");
  t.same(await statusesOf([1, 2, 3, 4, 5, 6].map(() => () => signInFrom(b, during))), [401, 401, 401, 401, 401, 429], "and on replica B, separately");
  t.equal(a.limiterStore.status.shared, false, "the outage is visible");
  t.ok(a.limiterStore.status.localFallbacks >= 6, "and counted");
  t.equal(a.limiterStore.status.outages, 1);
  t.equal(logsOfA.lines.filter((line) => line.securityEvent === "limits-local-fallback").length, 1, "logged once");

  // Lockouts too are counted per replica meanwhile.
  const victim = uniqueEmail("victim");
  for (let i = 0; i < 10; i++) await a.accountLockout.recordFailure(`email:${victim}`);
  t.ok((await a.accountLockout.remainingLockMs(`email:${victim}`)) > 0, "locked on the replica that counted");
  t.equal(await b.accountLockout.remainingLockMs(`email:${victim}`), 0, "not on the other");

  await redis.up();
  await waitUntil(() => a.limiterStore.redis.status === "ready" && b.limiterStore.redis.status === "ready", "both replicas to reconnect");

  // Back: shared again.
  const after = "203.0.113.82";
  t.same(await statusesOf([a, b, a, b, a, b].map((app) => () => signInFrom(app, after))), [401, 401, 401, 401, 401, 429]);
  t.equal(a.limiterStore.status.shared, true, "counts are shared again");
  t.ok(logsOfA.lines.some((line) => line.securityEvent === "limits-shared-again"), "and the recovery is logged");
});
