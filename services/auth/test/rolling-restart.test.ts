// A rolling restart of one of two replicas under steady load loses no request: on SIGTERM the
// replica fails readiness, keeps serving while the balancer notices, finishes what is in flight,
// and exits cleanly.
import { once } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import t from "tap";
import { generousLimits } from "@temetro/test-support/auth-app";
import { startServer } from "@temetro/test-support/auth-process";
import { PASSWORD, uniqueEmail } from "@temetro/test-support/auth-requests";

// The balancer in front: it polls readiness every POLL_MS and takes a replica out after
// FAILURES_TO_REMOVE failed polls in a row, as load balancers do (a Kubernetes readiness probe's
// periodSeconds and failureThreshold, a cloud balancer's interval and unhealthy threshold).
const POLL_MS = 200;
const FAILURES_TO_REMOVE = 2;
// The README's rule: SHUTDOWN_DELAY_SECONDS >= interval x threshold + one more interval (the first
// failing poll comes up to one interval after SIGTERM) + the longest request. For a balancer that
// polls every 5 s and needs 2 failures: 15 s + the longest request. (With 0.1 s here, requests fail.)
const SHUTDOWN_DELAY_SECONDS = (POLL_MS * FAILURES_TO_REMOVE + POLL_MS + 400) / 1000;

t.test("SIGTERM to one of two replicas under steady load: zero failed requests", async (t) => {
  const prefix = `test-rolling-${process.pid}`;
  const env = { ...generousLimits, REDIS_PREFIX: prefix, SHUTDOWN_DELAY_SECONDS: String(SHUTDOWN_DELAY_SECONDS) };
  const replicas = [startServer(env), startServer(env)];
  t.teardown(() => replicas.forEach((replica) => replica.child.kill("SIGKILL")));
  const urls = await Promise.all(replicas.map((replica) => replica.baseUrl));

  // A signed-in user of a clinic, whose requests any replica can answer.
  const email = uniqueEmail("rolling");
  const signUp = await fetch(`${urls[0]}/api/auth/sign-up/email`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: "Rolling", email, password: PASSWORD }),
  });
  const cookie = signUp.headers.getSetCookie().map((line) => line.split(";")[0]).join("; ");
  const clinic = await fetch(`${urls[0]}/api/auth/organization/create`, {
    method: "POST",
    headers: { "content-type": "application/json", cookie },
    body: JSON.stringify({ name: "Rolling Clinic", slug: `rolling-${process.pid}-${Date.now()}` }),
  });
  t.equal(clinic.status, 200);

  // The balancer: routes to replicas whose readiness has not failed FAILURES_TO_REMOVE polls in a row.
  const ready = urls.map(() => true);
  const failedPolls = urls.map(() => 0);
  let balancing = true;
  const polls = urls.map(async (url, index) => {
    while (balancing) {
      const ok = await fetch(`${url}/health/ready`).then((response) => response.ok, () => false);
      failedPolls[index] = ok ? 0 : failedPolls[index]! + 1;
      ready[index] = failedPolls[index]! < FAILURES_TO_REMOVE;
      await sleep(POLL_MS);
    }
  });

  const outcomes: { replica: number; status: number | string }[] = [];
  let next = 0;
  const send = async () => {
    const candidates = urls.map((_, index) => index).filter((index) => ready[index]);
    const replica = candidates[next++ % candidates.length]!;
    try {
      const response = await fetch(`${urls[replica]}/api/clinic`, { headers: { cookie } });
      outcomes.push({ replica, status: response.status });
    } catch (error) {
      outcomes.push({ replica, status: (error as Error).message });
    }
  };

  // Steady load: a request every 5 ms for 3 s; the first replica gets SIGTERM after 1 s, with
  // sign-ins (a password hash each) in flight on it at that moment.
  const inFlight: Promise<Response>[] = [];
  const load: Promise<void>[] = [];
  const started = Date.now();
  let terminated = false;
  while (Date.now() - started < 3000) {
    load.push(send());
    if (!terminated && Date.now() - started > 1000) {
      for (let i = 0; i < 3; i += 1) {
        inFlight.push(
          fetch(`${urls[0]}/api/auth/sign-in/email`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ email, password: PASSWORD }),
          }),
        );
      }
      replicas[0]!.child.kill("SIGTERM");
      terminated = true;
    }
    await sleep(5);
  }
  await Promise.all(load);
  const signIns = await Promise.all(inFlight);
  balancing = false;
  await Promise.all(polls);
  const terminatedChild = replicas[0]!.child;
  const exitCode = terminatedChild.exitCode ?? (await once(terminatedChild, "exit"))[0];

  const failed = outcomes.filter((outcome) => outcome.status !== 200);
  t.same(failed, [], "every request under load succeeded");
  t.ok(outcomes.length > 200, `steady load was applied (${outcomes.length} requests)`);
  t.ok(outcomes.some((outcome) => outcome.replica === 0), "the terminated replica served before it left");
  t.ok(outcomes.slice(-50).every((outcome) => outcome.replica === 1), "the other replica took over");
  t.same(signIns.map((response) => response.status), [200, 200, 200], "requests in flight at SIGTERM completed");
  t.equal(exitCode, 0, "the terminated replica exited cleanly");
});
