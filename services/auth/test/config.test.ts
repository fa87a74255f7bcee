// The auth service's configuration: its defaults, the variable named with the reason, the
// development secret; the mailer's variables are not its business.
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { ConfigError } from "@temetro/shared";
import { loadConfig } from "../src/config.js";

const secret = { BETTER_AUTH_SECRET: "x".repeat(32) };

t.test("defaults reach this machine's PostgreSQL and Redis by IP and serve on port 4000", async (t) => {
  const config = loadConfig(secret);
  t.equal(config.port, 4000);
  t.equal(config.internalPort, 4001);
  t.equal(config.databaseUrl, "postgres://postgres@127.0.0.1:5432/temetro_auth");
  t.same(config.redis, { kind: "single", url: "redis://127.0.0.1:6379" });
  t.equal(config.requireEmailVerification, false);
  t.same(config.trustedOrigins, ["http://localhost:4000", "http://localhost:3000"]);
});

t.test("trusted origins are BETTER_AUTH_URL, FRONTEND_URL and TRUSTED_ORIGINS, as origins", async (t) => {
  const config = loadConfig({
    ...secret,
    BETTER_AUTH_URL: "https://auth.clinic.example/",
    FRONTEND_URL: "https://app.clinic.example/dashboard",
    TRUSTED_ORIGINS: "https://admin.clinic.example, https://app.clinic.example",
    REQUIRE_EMAIL_VERIFICATION: "true",
  });
  t.equal(config.betterAuthUrl, "https://auth.clinic.example");
  t.same(config.trustedOrigins, ["https://auth.clinic.example", "https://app.clinic.example", "https://admin.clinic.example"]);
  t.equal(config.requireEmailVerification, true);
});

t.test("each bad variable is named with the reason", async (t) => {
  const error = t.throws(() =>
    loadConfig({
      ...secret,
      PORT: "eighty",
      DATABASE_URL: "mysql://localhost/x",
      REQUIRE_EMAIL_VERIFICATION: "yes",
      TRUSTED_ORIGINS: "not a url",
      LOG_LEVEL: "loud",
      BETTER_AUTH_SECRET: "short",
    }),
  ) as ConfigError;
  t.type(error, ConfigError);
  const text = error.problems.join("\n");
  for (const [name, reason] of <[string, string][]>[
    ["PORT", "port number"],
    ["DATABASE_URL", "postgres://"],
    ["REQUIRE_EMAIL_VERIFICATION", "true or false"],
    ["TRUSTED_ORIGINS", "origin"],
    ["LOG_LEVEL", "expected one of"],
    ["BETTER_AUTH_SECRET", "32 characters"],
  ]) {
    t.match(text, new RegExp(`${name}[^\\n]*${reason}`), name);
  }
});

t.test("the mailer's variables are neither required nor validated: a bad SMTP_URL does not stop the auth service", async (t) => {
  const config = loadConfig({ ...secret, SMTP_URL: "http://not-smtp.example", SMTP_PORT: "0", MAILER_CONCURRENCY: "0", MAIL_FROM: "temetro" });
  t.equal(config.port, 4000);
  t.notOk("smtp" in config, "no SMTP setting in the auth service's configuration");
  const own = t.throws(() => loadConfig({ ...secret, SMTP_URL: "http://not-smtp.example", RATE_LIMIT_SIGN_IN: "lots" })) as ConfigError;
  t.same(own.problems, ["RATE_LIMIT_SIGN_IN: must be a whole number from 1 to 100000"], "its own bad value is still refused, and only it");
});

t.test("NODE_ENV=production requires BETTER_AUTH_SECRET", async (t) => {
  const error = t.throws(() => loadConfig({ NODE_ENV: "production" })) as ConfigError;
  t.match(error.problems, [/BETTER_AUTH_SECRET: required when NODE_ENV=production/]);
});

t.test("NODE_ENV=production requires INTERNAL_TOKEN and an https BETTER_AUTH_URL, reporting every missing one at once", async (t) => {
  const unset = t.throws(() => loadConfig({ NODE_ENV: "production" })) as ConfigError;
  t.same(
    unset.problems.map((problem) => problem.split(":")[0]).sort(),
    ["BETTER_AUTH_SECRET", "BETTER_AUTH_URL", "INTERNAL_TOKEN"],
    "secret, token and public origin, each named",
  );
  const production = { ...secret, NODE_ENV: "production", INTERNAL_TOKEN: "i".repeat(32) };
  for (const url of ["http://auth.clinic.example", "HTTP://auth.clinic.example", "http://localhost:4000"]) {
    const error = t.throws(() => loadConfig({ ...production, BETTER_AUTH_URL: url }), url) as ConfigError;
    t.match(error.problems, [/^BETTER_AUTH_URL: must be an https:\/\/ URL when NODE_ENV=production/], url);
  }
  const noToken = t.throws(() => loadConfig({ ...production, INTERNAL_TOKEN: "", BETTER_AUTH_URL: "https://auth.clinic.example" })) as ConfigError;
  t.match(noToken.problems, [/^INTERNAL_TOKEN: required when NODE_ENV=production/]);
  const config = loadConfig({ ...production, BETTER_AUTH_URL: "https://auth.clinic.example" });
  t.equal(config.internalToken, "i".repeat(32));
  t.equal(config.betterAuthUrl, "https://auth.clinic.example");
  t.ok(loadConfig({ ...secret, NODE_ENV: "development" }), "development asks for neither");
});

t.test("/metrics takes METRICS_TOKEN when set, else INTERNAL_TOKEN; both are at least 32 characters", async (t) => {
  const internal = "i".repeat(32);
  const metrics = "m".repeat(32);
  t.equal(loadConfig(secret).metricsToken, undefined, "no token: open, as in development");
  t.equal(loadConfig({ ...secret, INTERNAL_TOKEN: internal }).metricsToken, internal);
  t.equal(loadConfig({ ...secret, INTERNAL_TOKEN: internal, METRICS_TOKEN: metrics }).metricsToken, metrics, "METRICS_TOKEN wins");
  t.equal(loadConfig({ ...secret, INTERNAL_TOKEN: internal, METRICS_TOKEN: metrics }).internalToken, internal, "introspection keeps its own");
  const short = t.throws(() => loadConfig({ ...secret, METRICS_TOKEN: "short" })) as ConfigError;
  t.match(short.problems, [/^METRICS_TOKEN: must be at least 32 characters/]);
});

t.test("in development a secret is generated once, kept in a file, with a warning", async (t) => {
  const file = join(mkdtempSync(join(tmpdir(), "temetro-config-")), ".better-auth-secret");
  const warnings: string[] = [];
  const first = loadConfig({}, { devSecretFile: file, warn: (message) => warnings.push(message) });
  t.ok(first.betterAuthSecret.length >= 32);
  t.equal(readFileSync(file, "utf8").trim(), first.betterAuthSecret);
  t.equal(statSync(file).mode & 0o777, 0o600, "readable by its owner only");
  t.equal(warnings.length, 1);
  t.match(warnings[0], /BETTER_AUTH_SECRET is not set/);

  const second = loadConfig({}, { devSecretFile: file, warn: (message) => warnings.push(message) });
  t.equal(second.betterAuthSecret, first.betterAuthSecret, "the same secret on the next start: sessions survive");
  t.equal(warnings.length, 1, "no second warning");
});

t.test("empty variables count as unset", async (t) => {
  const config = loadConfig({ ...secret, PORT: "", TRUSTED_ORIGINS: "" });
  t.equal(config.port, 4000);
});

t.test("rate limits, lockout and hashing bound default to the API page's figures", async (t) => {
  const config = loadConfig(secret);
  t.same(config.rateLimits, {
    windowSeconds: 60,
    signIn: 5,
    signUp: 3,
    passwordReset: 3,
    verificationEmail: 3,
    resetCompletion: 10,
    api: 600,
  });
  t.same(config.lockout, { threshold: 10, windowSeconds: 900, baseSeconds: 60, maxSeconds: 3600 });
  t.equal(config.passwordHashConcurrency, 8);
  t.equal(config.databasePoolMax, 10);
  t.equal(config.databaseConnectionTimeoutMs, 5000);
  t.equal(config.trustProxy, false, "no proxy is trusted by default");
});

t.test("the pool must outnumber the hashing slots: a hashing sign-up may hold a connection", async (t) => {
  const config = loadConfig({ ...secret, DATABASE_POOL_MAX: "40", PASSWORD_HASH_CONCURRENCY: "32" });
  t.equal(config.databasePoolMax, 40);
  t.equal(config.passwordHashConcurrency, 32);
  const error = t.throws(() => loadConfig({ ...secret, DATABASE_POOL_MAX: "9" })) as ConfigError;
  t.match(error.problems, [/PASSWORD_HASH_CONCURRENCY: must be at most DATABASE_POOL_MAX - 2 \(7\)/]);
  const tooSmall = t.throws(() => loadConfig({ ...secret, DATABASE_POOL_MAX: "2" })) as ConfigError;
  t.match(tooSmall.problems, [/DATABASE_POOL_MAX: must be a whole number from 3/]);
});

t.test("PostgreSQL through PgBouncer: the migration and the listener default to DATABASE_URL, each may name PostgreSQL itself", async (t) => {
  const pooled = "postgres://app@10.0.0.7:6432/temetro_auth";
  const direct = "postgres://owner@10.0.0.5:5432/temetro_auth";
  const defaults = loadConfig({ ...secret, DATABASE_URL: pooled });
  t.equal(defaults.migrationDatabaseUrl, pooled);
  t.equal(defaults.listenDatabaseUrl, pooled);
  t.equal(defaults.databaseStatementTimeoutMs, 30_000);
  const split = loadConfig({ ...secret, DATABASE_URL: pooled, MIGRATION_DATABASE_URL: direct, DATABASE_LISTEN_URL: direct, DATABASE_STATEMENT_TIMEOUT_MS: "0" });
  t.equal(split.databaseUrl, pooled);
  t.equal(split.migrationDatabaseUrl, direct);
  t.equal(split.listenDatabaseUrl, direct);
  t.equal(split.databaseStatementTimeoutMs, 0, "0: no limit");
  const bad = t.throws(() =>
    loadConfig({ ...secret, MIGRATION_DATABASE_URL: "mysql://x@y/z", DATABASE_LISTEN_URL: "nope", DATABASE_STATEMENT_TIMEOUT_MS: "-1" }),
  ) as ConfigError;
  t.match(bad.problems, [/MIGRATION_DATABASE_URL: must be a postgres:\/\/ URL/, /DATABASE_LISTEN_URL: must be a postgres:\/\/ URL/, /DATABASE_STATEMENT_TIMEOUT_MS: must be a whole number from 0/]);
});

t.test("limits are configurable, a clinic behind one NAT address may need more", async (t) => {
  const config = loadConfig({ ...secret, RATE_LIMIT_SIGN_IN: "50", RATE_LIMIT_API: "5000", LOCKOUT_THRESHOLD: "20" });
  t.equal(config.rateLimits.signIn, 50);
  t.equal(config.rateLimits.api, 5000);
  t.equal(config.lockout.threshold, 20);
});

t.test("INVITATIONS_PER_HOUR is 50 unless set, and a whole number of at least 1", async (t) => {
  t.equal(loadConfig({ ...secret }).invitationsPerHour, 50);
  t.equal(loadConfig({ ...secret, INVITATIONS_PER_HOUR: "200" }).invitationsPerHour, 200);
  const error = t.throws(() => loadConfig({ ...secret, INVITATIONS_PER_HOUR: "0" })) as ConfigError;
  t.match(error.problems, [/INVITATIONS_PER_HOUR/]);
});

t.test("TRUST_PROXY takes a hop count or the proxies' addresses, and refuses `true`", async (t) => {
  t.equal(loadConfig({ ...secret, TRUST_PROXY: "false" }).trustProxy, false);
  t.equal(loadConfig({ ...secret, TRUST_PROXY: "2" }).trustProxy, 2);
  t.same(loadConfig({ ...secret, TRUST_PROXY: "10.0.0.5, 10.1.0.0/16, fd00::/8, loopback" }).trustProxy, [
    "10.0.0.5",
    "10.1.0.0/16",
    "fd00::/8",
    "loopback",
  ]);
  for (const value of ["true", "10.0.0.5/33", "proxy.example", "21", "10.0.0.5/8/1"]) {
    const error = t.throws(() => loadConfig({ ...secret, TRUST_PROXY: value }), value) as ConfigError;
    t.match(error.problems, [/TRUST_PROXY: must be false, a hop count/], value);
  }
});

t.test("a limit that is not a positive whole number is named", async (t) => {
  const error = t.throws(() =>
    loadConfig({ ...secret, RATE_LIMIT_SIGN_IN: "0", LOCKOUT_THRESHOLD: "ten", PASSWORD_HASH_CONCURRENCY: "1.5" }),
  ) as ConfigError;
  const text = error.problems.join("\n");
  t.match(text, /RATE_LIMIT_SIGN_IN: must be a whole number from 1/);
  t.match(text, /LOCKOUT_THRESHOLD: must be a whole number from 1/);
  t.match(text, /PASSWORD_HASH_CONCURRENCY: must be a whole number from 1/);
});

t.test("sessions last 12 hours from sign-in and 30 minutes from their last use unless set", async (t) => {
  t.same(loadConfig({ ...secret }).sessionLifetime, { maxAgeSeconds: 12 * 3600, idleSeconds: 30 * 60 });
  t.same(loadConfig({ ...secret, SESSION_MAX_AGE_HOURS: "8", SESSION_IDLE_MINUTES: "15" }).sessionLifetime, {
    maxAgeSeconds: 8 * 3600,
    idleSeconds: 15 * 60,
  });
});

t.test("session lifetimes are whole numbers, and the idle timeout is not longer than the maximum age", async (t) => {
  const bad = t.throws(() => loadConfig({ ...secret, SESSION_MAX_AGE_HOURS: "0", SESSION_IDLE_MINUTES: "1.5" })) as ConfigError;
  const text = bad.problems.join("\n");
  t.match(text, /SESSION_MAX_AGE_HOURS: must be a whole number from 1/);
  t.match(text, /SESSION_IDLE_MINUTES: must be a whole number from 1/);
  const longer = t.throws(() => loadConfig({ ...secret, SESSION_MAX_AGE_HOURS: "1", SESSION_IDLE_MINUTES: "61" })) as ConfigError;
  t.match(longer.problems, [/SESSION_IDLE_MINUTES: must not be longer than SESSION_MAX_AGE_HOURS/]);
});
