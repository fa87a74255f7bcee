// The mailer's /metrics over real HTTP: behind the metrics token whenever one is configured
// (METRICS_TOKEN, else INTERNAL_TOKEN, as on the auth service's internal port); its probes stay open.
import t, { type Test } from "tap";
import { testConfig } from "@temetro/test-support/auth-app";
import { loadConfig } from "../src/config.js";
import { buildMailerHttp } from "../src/http.js";
import { startTestMailer } from "./fixtures/mailer.js";

const INTERNAL_TOKEN = "internal-token-for-the-tests-0123456789";
const METRICS_TOKEN = "metrics-token-for-the-tests-9876543210";

async function mailerListening(t: Test, env: Record<string, string>) {
  const config = testConfig();
  const testMailer = await startTestMailer(t, config);
  const { metricsToken } = loadConfig(env);
  const http = await buildMailerHttp({ redis: config.redis, logger: testMailer.logger, mailer: testMailer.mailer, metricsToken });
  t.teardown(() => http.close());
  const base = await http.listen({ host: "127.0.0.1", port: 0 });
  const scrape = (authorization?: string) => fetch(`${base}/metrics`, { headers: authorization ? { authorization } : {} });
  return { base, scrape };
}

t.test("with INTERNAL_TOKEN set, the mailer's /metrics answers 401 without it and the figures with it", async (t) => {
  const { scrape } = await mailerListening(t, { INTERNAL_TOKEN });
  for (const authorization of [undefined, "Bearer wrong-token", `Basic ${INTERNAL_TOKEN}`]) {
    const refused = await scrape(authorization);
    t.equal(refused.status, 401, String(authorization));
    t.equal(refused.headers.get("www-authenticate"), 'Bearer realm="metrics"');
    const body = (await refused.json()) as { code: string };
    t.equal(body.code, "METRICS_TOKEN_REQUIRED");
    t.notMatch(JSON.stringify(body), /mailer_/, "no figure in the refusal");
  }
  const scraped = await scrape(`Bearer ${INTERNAL_TOKEN}`);
  t.equal(scraped.status, 200);
  t.match(await scraped.text(), /mailer_queue_jobs|mailer_emails/);
});

t.test("METRICS_TOKEN wins over INTERNAL_TOKEN on the mailer too", async (t) => {
  const { scrape } = await mailerListening(t, { INTERNAL_TOKEN, METRICS_TOKEN });
  t.equal((await scrape(`Bearer ${METRICS_TOKEN}`)).status, 200);
  t.equal((await scrape(`Bearer ${INTERNAL_TOKEN}`)).status, 401);
});

t.test("the probes stay open with a token set; without one /metrics is open (development)", async (t) => {
  const guarded = await mailerListening(t, { METRICS_TOKEN });
  t.equal((await fetch(`${guarded.base}/health/live`)).status, 200);
  t.equal((await fetch(`${guarded.base}/health/ready`)).status, 200);
  const open = await mailerListening(t, {});
  t.equal((await open.scrape()).status, 200);
});
