// `npm run scale`: the deployment a clinic group runs, on this machine, under mixed load. Three auth
// replicas and two mailers as real processes on one Redis Sentinel set (primary, replica, three
// sentinels) and one PgBouncer in transaction pooling mode in front of PostgreSQL, an SMTP server in
// this process. It prints figures (a script, not a timed test) and fails (exit 1) when a promise
// breaks: a limit counted other than exactly across replicas, an email lost or sent twice, a revoked
// session answered active anywhere.
//
// SCALE_SECONDS (60) of load from SCALE_CONCURRENCY (24) clients after SCALE_CLINICS (20) clinics
// are set up; every request from an address of its own unless it is the point. Halfway through the
// load the Sentinel set fails over (SCALE_FAILOVER=0: it does not).
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { SmtpSink } from "@temetro/test-support/smtp-sink";
import { MailerProcess, Replica } from "../resilience/fixtures/replica.js";
import { countBy, latencyTable, randomAddress, ScaleClient, type Reply } from "./client.js";
import { startInfrastructure } from "./infrastructure.js";

const seconds = Number(process.env.SCALE_SECONDS ?? 60);
const concurrency = Number(process.env.SCALE_CONCURRENCY ?? 24);
const clinicCount = Number(process.env.SCALE_CLINICS ?? 20);

const ORIGIN = "http://auth.scale.test";
const PASSWORD = "scale-run-Password-7731";
// No INTERNAL_TOKEN: the replicas' readiness here is read from an open /metrics (as in the resilience suite).
const INTERNAL_TOKEN = "";
const SIGN_IN_LIMIT = 5;
const RESET_LIMIT = 3;

const SUBJECT_KINDS: [RegExp, string][] = [
  [/^Confirm your email address/, "verify"],
  [/^Reset your temetro password/, "reset"],
  [/invited you to/, "invitation"],
];

interface Session {
  cookie: string;
  token: string;
}

interface Clinic {
  owner: string;
  cookie: string;
}

const failures: string[] = [];
const check = (ok: boolean, what: string) => {
  console.log(`${ok ? "ok" : "NOT OK"}: ${what}`);
  if (!ok) failures.push(what);
};

const infrastructure = await startInfrastructure();
const sink = await SmtpSink.start();
const processes: (Replica | MailerProcess)[] = [];
const stopAll = async () => {
  await Promise.all(processes.map((process) => process.stop("SIGTERM").catch(() => {})));
  await sink.stop();
  await infrastructure.stop();
};
process.once("SIGINT", () => void stopAll().then(() => process.exit(130)));

try {
  const prefix = `scale-${randomUUID().slice(0, 8)}`;
  const common = {
    ...infrastructure.databaseEnv,
    ...infrastructure.redisEnv,
    REDIS_PREFIX: prefix,
    BETTER_AUTH_SECRET: `scale-secret-${randomUUID()}`,
    BETTER_AUTH_URL: ORIGIN,
    FRONTEND_URL: "http://app.scale.test",
    TRUST_PROXY: "loopback",
    RATE_LIMIT_SIGN_IN: String(SIGN_IN_LIMIT),
    RATE_LIMIT_PASSWORD_RESET: String(RESET_LIMIT),
    INVITATIONS_PER_HOUR: "100000",
    LOG_LEVEL: "warn",
  };
  await infrastructure.migrate(common);
  const replicas = await Promise.all(["A", "B", "C"].map((name) => Replica.create(name, common)));
  const mailers = await Promise.all(
    [1, 2].map(() => MailerProcess.create({ ...infrastructure.databaseEnv, ...infrastructure.redisEnv, REDIS_PREFIX: prefix, SMTP_URL: sink.url, LOG_LEVEL: "warn" })),
  );
  processes.push(...replicas, ...mailers);
  await Promise.all(processes.map((process) => process.start()));
  console.log(`# Scale run: ${infrastructure.describe}, 3 auth replicas, 2 mailers`);

  const client = new ScaleClient(ORIGIN, INTERNAL_TOKEN);
  let turn = 0;
  const nextReplica = () => replicas[turn++ % replicas.length]!;
  const pick = <T>(items: T[]) => items[Math.floor(Math.random() * items.length)]!;
  /** Emails owed for a 200: recipient and kind. */
  const owed: { to: string; kind: string }[] = [];
  const emailsTo = (to: string, kind: string) => sink.received.filter((email) => email.to === to && kindOf(email.subject) === kind);

  // Clinics: an owner signs up, follows the verification link in the session that signed up
  // (an inviter needs a verified address), and creates the clinic.
  const seedStarted = Date.now();
  const clinics: Clinic[] = [];
  const accounts: string[] = [];
  await Promise.all(
    Array.from({ length: clinicCount }, async (_, index) => {
      const owner = `owner-${index}-${randomUUID().slice(0, 6)}@clinic${index}.example`;
      const signUp = await client.send(nextReplica(), "seed", "/api/auth/sign-up/email", { body: { name: `Owner ${index}`, email: owner, password: PASSWORD } });
      if (signUp.status !== 200) throw new Error(`seeding: sign-up answered ${signUp.status}`);
      owed.push({ to: owner, kind: "verify" });
      const link = await waitFor(() => emailsTo(owner, "verify")[0]?.text.match(/https?:\/\/\S+verify-email\?token=\S+/)?.[0], 60_000);
      const verifyUrl = new URL(link.replace(/^https?:\/\/[^/]+/, ""), "http://placeholder");
      const verified = await client.send(nextReplica(), "seed", `${verifyUrl.pathname}${verifyUrl.search}`, { cookie: signUp.cookie });
      const cookie = mergeCookies(signUp.cookie, verified.cookie);
      const created = await client.send(nextReplica(), "seed", "/api/auth/organization/create", { body: { name: `Clinic ${index}`, slug: `clinic-${index}-${randomUUID().slice(0, 6)}` }, cookie });
      if (created.status !== 200) throw new Error(`seeding: organization/create answered ${created.status}: ${JSON.stringify(created.json)}`);
      const active = await client.send(nextReplica(), "seed", "/api/auth/organization/set-active", { body: { organizationId: (created.json as { id: string }).id }, cookie });
      clinics.push({ owner, cookie: mergeCookies(cookie, active.cookie) });
      accounts.push(owner);
    }),
  );
  console.log(`${clinicCount} clinics set up in ${((Date.now() - seedStarted) / 1000).toFixed(1)} s`);

  // Mixed load, closed loop: each client sends its next request when the last is answered.
  const sessions: Session[] = [];
  const resetAsked = new Set<string>();
  const mix: [number, () => Promise<unknown>][] = [
    [15, async () => {
      const email = `user-${randomUUID()}@example.com`;
      const reply = await client.send(nextReplica(), "sign-up", "/api/auth/sign-up/email", { body: { name: "Scale User", email, password: PASSWORD } });
      if (reply.status === 200) {
        owed.push({ to: email, kind: "verify" });
        accounts.push(email);
      }
    }],
    [20, async () => {
      const reply = await client.send(nextReplica(), "sign-in", "/api/auth/sign-in/email", { body: { email: pick(accounts), password: PASSWORD } });
      const token = (reply.json as { token?: string } | undefined)?.token;
      if (reply.status === 200 && token && sessions.length < 500) sessions.push({ cookie: reply.cookie, token });
    }],
    [30, async () => sessions.length > 0 && client.send(nextReplica(), "get-session", "/api/auth/get-session", { cookie: pick(sessions).cookie })],
    [20, async () => sessions.length > 0 && client.send(nextReplica(), "introspect", "/internal/v1/introspect", { body: { token: pick(sessions).token }, internal: true })],
    [5, async () => {
      const email = `invitee-${randomUUID()}@example.com`;
      const reply = await client.send(nextReplica(), "invitation", "/api/auth/organization/invite-member", { body: { email, role: "doctor" }, cookie: pick(clinics).cookie });
      if (reply.status === 200) owed.push({ to: email, kind: "invitation" });
    }],
    [10, async () => {
      const email = accounts.find((account) => !resetAsked.has(account));
      if (!email) return;
      resetAsked.add(email);
      const reply = await client.send(nextReplica(), "reset", "/api/auth/request-password-reset", { body: { email, redirectTo: "http://app.scale.test/reset-password" } });
      if (reply.status === 200) owed.push({ to: email, kind: "reset" });
    }],
  ];
  const totalWeight = mix.reduce((sum, [weight]) => sum + weight, 0);
  const chooseOperation = () => {
    let roll = Math.random() * totalWeight;
    for (const [weight, operation] of mix) if ((roll -= weight) < 0) return operation;
    return mix[0]![1];
  };
  const loadStarted = Date.now();
  const deadline = loadStarted + seconds * 1000;
  const loadFrom = client.answers.length;
  const failover =
    process.env.SCALE_FAILOVER === "0"
      ? undefined
      : sleep((seconds * 1000) / 2).then(async () => {
          const startedAt = Date.now();
          const { tookMs } = await infrastructure.failover();
          return { at: (startedAt - loadStarted) / 1000, tookMs };
        });
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < deadline) await chooseOperation()();
    }),
  );
  const loadSeconds = (Date.now() - loadStarted) / 1000;
  const failedOver = await failover;
  const loadAnswers = client.answers.slice(loadFrom);
  console.log(`\n## Mixed load: ${concurrency} clients for ${loadSeconds.toFixed(0)} s, ${(loadAnswers.length / loadSeconds).toFixed(1)} requests/s over all`);
  if (failedOver) console.log(`Redis failed over at ${failedOver.at.toFixed(1)} s into the load (the switch announced after ${failedOver.tookMs} ms)`);
  for (const line of latencyTable(loadAnswers)) console.log(line);
  const serverErrors = loadAnswers.filter((answer) => answer.status === 0 || answer.status >= 500);
  console.log(`requests/s by replica: ${Object.entries(countBy(loadAnswers, (answer) => answer.replica)).map(([name, count]) => `${name} ${(count / loadSeconds).toFixed(1)}`).join(", ")}`);
  check(serverErrors.filter((answer) => answer.status !== 503).length === 0, `no 5xx but shedding 503s, no request unanswered (${serverErrors.length} 5xx/unanswered, of which 503: ${serverErrors.filter((answer) => answer.status === 503).length})`);

  // Limits, exact across replicas: from each of ten addresses, three times the limit of sign-ins
  // and of reset requests at once, spread over the three replicas.
  console.log("\n## Limits across replicas");
  for (const [route, limit, body] of [
    ["/api/auth/sign-in/email", SIGN_IN_LIMIT, () => ({ email: pick(accounts), password: PASSWORD })],
    ["/api/auth/request-password-reset", RESET_LIMIT, () => ({ email: `nobody-${randomUUID()}@example.com` })],
  ] as const) {
    const allowed: number[] = [];
    for (let round = 0; round < 10; round++) {
      const address = randomAddress();
      const replies: Reply[] = await Promise.all(Array.from({ length: limit * 3 }, () => client.send(nextReplica(), "limit-probe", route, { body: body(), address })));
      allowed.push(replies.filter((reply) => reply.status !== 429).length);
    }
    check(allowed.every((count) => count === limit), `${route}: ${limit * 3} at once from one address over 3 replicas, allowed per address: ${allowed.join(", ")} (limit ${limit})`);
  }

  // Revocations visible everywhere at once: sign in on one replica, read the session on all three
  // (so each may hold it in its cache), sign out on the first, read it at once on the other two.
  console.log("\n## Revocations");
  let stale = 0;
  let probes = 0;
  const staleDetails: string[] = [];
  const staleFor: number[] = [];
  for (let round = 0; round < 30; round++) {
    const [home, ...others] = [replicas[round % 3]!, replicas[(round + 1) % 3]!, replicas[(round + 2) % 3]!];
    const signIn = await client.send(home, "sign-in", "/api/auth/sign-in/email", { body: { email: pick(accounts), password: PASSWORD } });
    const token = (signIn.json as { token?: string } | undefined)?.token;
    if (signIn.status !== 200 || !token) {
      check(false, `revocation round ${round}: sign-in answered ${signIn.status}`);
      continue;
    }
    await Promise.all(replicas.map((replica) => client.send(replica, "get-session", "/api/auth/get-session", { cookie: signIn.cookie })));
    const signOut = await client.send(home, "sign-out", "/api/auth/sign-out", { body: {}, cookie: signIn.cookie });
    if (signOut.status !== 200) {
      check(false, `revocation round ${round}: sign-out answered ${signOut.status}`);
      continue;
    }
    for (const replica of others) {
      const [session, introspection] = await Promise.all([
        client.send(replica, "revoked-get-session", "/api/auth/get-session", { cookie: signIn.cookie }),
        client.send(replica, "revoked-introspect", "/internal/v1/introspect", { body: { token }, internal: true }),
      ]);
      probes += 2;
      // Only an answer that the session is active counts as stale; anything else is a failure of its own.
      for (const [what, reply, active] of [
        ["get-session", session, session.status === 200 && session.json !== null],
        ["introspection", introspection, (introspection.json as { active?: boolean } | undefined)?.active === true],
      ] as const) {
        if (active) {
          stale++;
          // How long it stays: a missed notification is caught by the next poll of the log (1 s).
          const since = Date.now();
          while (Date.now() - since < 10_000 && (await client.send(replica, "revoked-get-session", "/api/auth/get-session", { cookie: signIn.cookie })).json !== null);
          staleFor.push(Date.now() - since);
          staleDetails.push(`${what} on ${replica.name} (signed out on ${home.name}; still active for ${Date.now() - since} ms)`);
        } else if (reply.status !== 200) check(false, `revocation round ${round}: ${what} on ${replica.name} answered ${reply.status} ${JSON.stringify(reply.json)}`);
      }
    }
  }
  // Another replica hears of the sign-out by PostgreSQL's notification, a few milliseconds after
  // the commit; a request that reaches it sooner is answered from its memory. The promise is the
  // notification's delay, bounded by the poll of the log (1 s) should a notification be lost.
  console.log(
    `${stale} of ${probes} reads sent at once after the sign-out's answer were still answered active` +
      (stale ? `, for at most ${Math.max(...staleFor)} ms: ${staleDetails.join("; ")}` : ""),
  );
  check(staleFor.every((ms) => ms < 1000), `no revoked session answered active past the poll's bound (1 s) on any replica`);

  // Every email owed exactly once; then a while longer, for a late duplicate to show.
  console.log("\n## Emails");
  const deliveryStarted = Date.now();
  await waitFor(() => owed.every(({ to, kind }) => emailsTo(to, kind).length > 0) || undefined, 180_000).catch(() => {});
  const drained = (Date.now() - deliveryStarted) / 1000;
  await sleep(5000);
  const missing = owed.filter(({ to, kind }) => emailsTo(to, kind).length === 0);
  const twice = owed.filter(({ to, kind }) => emailsTo(to, kind).length > 1);
  console.log(`owed ${owed.length} (${Object.entries(countBy(owed, (email) => email.kind)).map(([kind, count]) => `${kind} ${count}`).join(", ")}); received ${sink.received.length}; the last arrived ${drained.toFixed(1)} s after the load ended`);
  check(missing.length === 0, `every email owed for a 200 arrived (${missing.length} missing)`);
  check(twice.length === 0, `none arrived twice (${twice.length} twice)`);
  check(
    processes.every((process) => process.unexpectedExits.length === 0),
    `no process ended unasked (${processes.flatMap((process) => process.unexpectedExits.map((exit) => `${process.name}: ${exit.code ?? exit.signal}`)).join(", ") || "none"})`,
  );
  console.log(`\n${await infrastructure.report()}`);
} finally {
  await stopAll();
}
if (failures.length > 0) {
  console.error(`\n${failures.length} promise(s) broken:\n${failures.map((failure) => `  - ${failure}`).join("\n")}`);
  process.exit(1);
}

function kindOf(subject: string): string {
  return SUBJECT_KINDS.find(([pattern]) => pattern.test(subject))?.[1] ?? "other";
}

/** The later cookies win: a Cookie header from two answers' Set-Cookie lines. */
function mergeCookies(...headers: string[]): string {
  const jar = new Map<string, string>();
  for (const header of headers)
    for (const pair of header.split("; ").filter(Boolean)) jar.set(pair.slice(0, pair.indexOf("=")), pair);
  return [...jar.values()].join("; ");
}

async function waitFor<T>(read: () => T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = read();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms`);
    await sleep(50);
  }
}
