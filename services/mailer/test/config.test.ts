// The mailer's configuration: SMTP, From, concurrency and its HTTP port, each bad value named with
// the reason; the auth service's variables (limits, secret, proxies) are not its business.
import t from "tap";
import { ConfigError } from "@temetro/shared";
import { loadConfig } from "../src/config.js";

const problems = (env: Record<string, string>) => (t.throws(() => loadConfig(env)) as ConfigError).problems.join("\n");

t.test("no SMTP by default (emails printed), concurrency 4, a From naming temetro, HTTP on port 4002", async (t) => {
  const config = loadConfig({});
  t.equal(config.smtp, undefined);
  t.equal(config.mailFrom, "temetro <no-reply@localhost>");
  t.equal(config.mailerConcurrency, 4);
  t.equal(config.mailerLockDurationMs, 30_000);
  t.equal(config.mailerHttpPort, 4002);
  t.same(config.redis, { kind: "single", url: "redis://127.0.0.1:6379" });
  t.equal(config.frontendUrl, "http://localhost:3000");
  t.equal(loadConfig({ MAILER_HTTP_PORT: "9102" }).mailerHttpPort, 9102);
});

t.test("SMTP from a URL, or from host and port (465 means implicit TLS), with user and password together", async (t) => {
  t.same(loadConfig({ SMTP_URL: "smtps://mailer:pw@smtp.clinic.example" }).smtp, { url: "smtps://mailer:pw@smtp.clinic.example" });
  t.same(loadConfig({ SMTP_HOST: "10.0.0.5" }).smtp, { host: "10.0.0.5", port: 587, secure: false });
  t.same(loadConfig({ SMTP_HOST: "10.0.0.5", SMTP_PORT: "465" }).smtp, { host: "10.0.0.5", port: 465, secure: true });
  t.same(loadConfig({ SMTP_HOST: "10.0.0.5", SMTP_SECURE: "true", SMTP_USER: "u", SMTP_PASS: "p" }).smtp, {
    host: "10.0.0.5",
    port: 465,
    secure: true,
    user: "u",
    pass: "p",
  });
  t.equal(loadConfig({ MAIL_FROM: "no-reply@clinic.example", MAILER_CONCURRENCY: "16" }).mailerConcurrency, 16);
});

t.test("bad mailer variables are named with the reason", async (t) => {
  t.match(problems({ SMTP_URL: "http://smtp.example" }), /SMTP_URL: must be an smtp:\/\/ or smtps:\/\/ URL/);
  t.match(problems({ SMTP_URL: "smtp://a.example", SMTP_HOST: "b.example" }), /SMTP_URL: set either SMTP_URL or SMTP_HOST, not both/);
  t.match(problems({ SMTP_PORT: "25" }), /SMTP_HOST: required when SMTP_PORT is set/);
  t.match(problems({ SMTP_HOST: "a.example", SMTP_USER: "u" }), /SMTP_PASS: SMTP_USER and SMTP_PASS go together/);
  t.match(problems({ SMTP_HOST: "a.example", SMTP_PASS: "p" }), /SMTP_USER: SMTP_USER and SMTP_PASS go together/);
  t.match(problems({ SMTP_PORT: "0" }), /SMTP_PORT: must be a port number/);
  t.match(problems({ MAIL_FROM: "temetro" }), /MAIL_FROM: must be an address/);
  t.match(problems({ MAIL_FROM: "temetro <a@b.example>\r\nBcc: x@y.example" }), /MAIL_FROM: must be an address/);
  t.match(problems({ MAILER_CONCURRENCY: "0" }), /MAILER_CONCURRENCY: must be a whole number from 1 to 100/);
  t.match(problems({ MAILER_LOCK_DURATION_MS: "10" }), /MAILER_LOCK_DURATION_MS: must be a number of milliseconds/);
  t.match(problems({ MAILER_HTTP_PORT: "70000" }), /MAILER_HTTP_PORT: must be a port number \(0-65535\)/);
  t.match(problems({ MAILER_HTTP_PORT: "metrics" }), /MAILER_HTTP_PORT: must be a port number \(0-65535\)/);
});

t.test("the auth service's variables are neither required nor validated: a bad RATE_LIMIT_SIGN_IN does not stop the mailer", async (t) => {
  const authOnly = { NODE_ENV: "production", RATE_LIMIT_SIGN_IN: "lots", BETTER_AUTH_SECRET: "short", TRUST_PROXY: "true", PORT: "eighty" };
  const config = loadConfig({ ...authOnly, SMTP_URL: "smtp://10.0.0.5" });
  t.equal(config.nodeEnv, "production", "no BETTER_AUTH_SECRET needed, even in production");
  t.notOk("rateLimits" in config, "no rate limits in the mailer's configuration");
  t.same(
    (t.throws(() => loadConfig({ ...authOnly, MAILER_CONCURRENCY: "0" })) as ConfigError).problems,
    ["MAILER_CONCURRENCY: must be a whole number from 1 to 100"],
    "its own bad value is still refused, and only it",
  );
});
