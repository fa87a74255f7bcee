// The cluster-internal surfaces: /metrics asks for a token whenever one is configured (Prometheus
// sends it as a bearer token), the probes never do, and a production start without the token or
// without https is refused, naming the variable.
import { once } from "node:events";
import t, { type Test } from "tap";
import { buildInternalApp } from "../src/internal-app.js";
import { buildTestApp } from "@temetro/test-support/auth-app";
import { startServer } from "@temetro/test-support/auth-process";
import { signUp } from "@temetro/test-support/auth-requests";

const INTERNAL_TOKEN = "internal-token-for-the-tests-0123456789";
const METRICS_TOKEN = "metrics-token-for-the-tests-9876543210";

/** Both listeners of an app, on free ports of 127.0.0.1, for real HTTP requests. */
async function listening(t: Test, env: Record<string, string>) {
  const { app } = await buildTestApp(t, { env });
  const internal = await buildInternalApp(app);
  t.teardown(() => internal.close());
  const internalUrl = await internal.listen({ host: "127.0.0.1", port: 0 });
  const publicUrl = await app.listen({ host: "127.0.0.1", port: 0 });
  await signUp(app);
  const scrape = (authorization?: string) => fetch(`${internalUrl}/metrics`, { headers: authorization ? { authorization } : {} });
  return { app, internalUrl, publicUrl, scrape };
}

t.test("with INTERNAL_TOKEN set, /metrics answers 401 without it and serves Prometheus text with it", async (t) => {
  const { scrape } = await listening(t, { INTERNAL_TOKEN });
  for (const authorization of [undefined, "Bearer wrong-token", `Basic ${INTERNAL_TOKEN}`, `Bearer ${INTERNAL_TOKEN}x`, INTERNAL_TOKEN]) {
    const refused = await scrape(authorization);
    t.equal(refused.status, 401, String(authorization));
    t.equal(refused.headers.get("www-authenticate"), 'Bearer realm="metrics"');
    const body = (await refused.json()) as { code: string };
    t.equal(body.code, "METRICS_TOKEN_REQUIRED");
    t.notMatch(JSON.stringify(body), /auth_sign_ins_total|http_request_duration/, "no figure in the refusal");
  }
  const scraped = await scrape(`Bearer ${INTERNAL_TOKEN}`);
  t.equal(scraped.status, 200);
  t.match(scraped.headers.get("content-type"), /^text\/plain; version=0\.0\.4/);
  t.match(await scraped.text(), /http_request_duration_seconds_count\{[^}]*route="\/api\/auth\/\*"/);
});

t.test("METRICS_TOKEN, when set, is the one token /metrics takes; introspection still takes only INTERNAL_TOKEN", async (t) => {
  const { internalUrl, scrape } = await listening(t, { INTERNAL_TOKEN, METRICS_TOKEN });
  t.equal((await scrape(`Bearer ${METRICS_TOKEN}`)).status, 200, "the metrics token scrapes");
  t.equal((await scrape(`Bearer ${INTERNAL_TOKEN}`)).status, 401, "the internal token does not: Prometheus needs only its own");

  const introspect = (token: string) =>
    fetch(`${internalUrl}/internal/v1/introspect`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ cookie: "" }),
    });
  const withMetricsToken = await introspect(METRICS_TOKEN);
  t.equal(withMetricsToken.status, 401, "the metrics token reads no session");
  t.equal(((await withMetricsToken.json()) as { code: string }).code, "INTERNAL_TOKEN_REQUIRED");
  t.equal((await introspect(INTERNAL_TOKEN)).status, 200);
});

t.test("with a token set, the health probes stay open on the public port (the kubelet sends no token)", async (t) => {
  const { publicUrl } = await listening(t, { INTERNAL_TOKEN, METRICS_TOKEN });
  for (const path of ["/health/live", "/health/ready"]) {
    t.equal((await fetch(`${publicUrl}${path}`)).status, 200, path);
  }
  t.equal((await fetch(`${publicUrl}/metrics`)).status, 404, "and the public port serves no metrics at all");
});

t.test("without any token (development), /metrics stays open", async (t) => {
  const { scrape } = await listening(t, {});
  t.equal((await scrape()).status, 200);
});

t.test("NODE_ENV=production without INTERNAL_TOKEN and with an http BETTER_AUTH_URL does not start, naming both", async (t) => {
  const server = startServer({ NODE_ENV: "production", BETTER_AUTH_URL: "http://auth.clinic.example" });
  t.teardown(() => {
    server.child.kill("SIGKILL");
  });
  const [code] = await once(server.child, "exit");
  t.equal(code, 1);
  const output = server.output();
  t.match(output, /INTERNAL_TOKEN: required when NODE_ENV=production/);
  t.match(output, /BETTER_AUTH_URL: must be an https:\/\/ URL when NODE_ENV=production/);
  t.notMatch(output, /Server listening/, "nothing listened");
});
