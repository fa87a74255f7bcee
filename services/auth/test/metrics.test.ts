// GET /metrics on the internal listener: Prometheus text after some traffic; not on the public port.
import t from "tap";
import { buildInternalApp } from "../src/internal-app.js";
import { buildTestApp } from "@temetro/test-support/auth-app";
import { metricSample, signIn, signUp } from "@temetro/test-support/auth-requests";
import { waitUntil } from "@temetro/test-support/polling";
import { SpareRedis } from "@temetro/test-support/spare-redis";

t.test("the internal /metrics reports request latency by route, sign-in outcomes and process figures", async (t) => {
  const { app } = await buildTestApp(t);
  const internal = await buildInternalApp(app);
  t.teardown(() => internal.close());

  const { email, cookie } = await signUp(app);
  t.equal((await signIn(app, email)).statusCode, 200);
  t.equal((await signIn(app, email, "not-the-right-password")).statusCode, 401);
  await app.inject({ method: "GET", url: "/api/clinic", headers: { cookie } });

  const response = await internal.inject({ method: "GET", url: "/metrics" });
  t.equal(response.statusCode, 200);
  t.match(response.headers["content-type"], /^text\/plain; version=0\.0\.4/);
  const text = response.body;
  const requests = (labels: Record<string, string>) => metricSample(text, "http_request_duration_seconds_count", { service: "auth", ...labels });
  t.equal(requests({ method: "GET", route: "/api/clinic", status: "403" }), 1);
  t.equal(requests({ method: "POST", route: "/api/auth/*", status: "200" }), 2, "sign-up and sign-in");
  t.equal(requests({ method: "POST", route: "/api/auth/*", status: "401" }), 1);
  t.equal(metricSample(text, "auth_sign_ins_total", { outcome: "success" }), 1);
  t.equal(metricSample(text, "auth_sign_ins_total", { outcome: "wrong_password" }), 1);
  t.equal(metricSample(text, "auth_password_hash_duration_seconds_count", { operation: "hash" }), 1, "one hash: the sign-up");
  t.equal(metricSample(text, "auth_password_hash_duration_seconds_count", { operation: "verify" }), 2, "two verifications");
  t.match(text, /nodejs_eventloop_lag_seconds\{service="auth"\}/);
  t.match(text, /process_cpu_user_seconds_total\{service="auth"\}/);
  t.notMatch(text, /session_token|a-long-secure-password/, "no secret in a label");
});

t.test("the public port does not serve /metrics", async (t) => {
  const { app } = await buildTestApp(t);
  t.equal((await app.inject({ method: "GET", url: "/metrics" })).statusCode, 404);
});

t.test("the internal /metrics reports the degraded modes: dependencies, Redis persistence, limits' fallback, session cache", async (t) => {
  const redis = await SpareRedis.start(t); // keeps nothing on disk
  const { app } = await buildTestApp(t, { env: { REDIS_URL: redis.url } });
  const internal = await buildInternalApp(app);
  t.teardown(() => internal.close());
  await waitUntil(() => app.sessions.directory.isCaching, "the session cache to be on");
  const scrape = async () => (await internal.inject({ method: "GET", url: "/metrics" })).body;

  let text = await scrape();
  t.equal(metricSample(text, "auth_dependency_up", { dependency: "postgres" }), 1);
  t.equal(metricSample(text, "auth_dependency_up", { dependency: "redis" }), 1);
  t.equal(metricSample(text, "auth_redis_persistence", { mode: "none" }), 1, "no AOF, no snapshots: said so");
  t.equal(metricSample(text, "auth_redis_persistence", { mode: "aof" }), 0);
  t.equal(metricSample(text, "auth_session_cache_enabled", {}), 1);
  t.equal(metricSample(text, "auth_limits_shared", {}), 1);
  t.equal(metricSample(text, "auth_limits_outages_total", {}), 0);
  t.ok((metricSample(text, "auth_session_invalidations_received_total", {}) ?? -1) >= 0);
  t.equal(metricSample(text, "auth_session_invalidation_read_failures_total", {}), 0);
  t.ok((metricSample(text, "auth_session_cache_bytes", {}) ?? -1) >= 0);

  await redis.down();
  await waitUntil(() => app.limiterStore.redis.status !== "ready", "the app to see Redis gone");
  t.equal((await signIn(app, "nobody@example.com", "not-the-right-password")).statusCode, 401, "served, counted in memory");
  text = await scrape();
  t.equal(metricSample(text, "auth_dependency_up", { dependency: "redis" }), 0);
  t.equal(metricSample(text, "auth_limits_shared", {}), 0);
  t.equal(metricSample(text, "auth_limits_outages_total", {}), 1);
  t.ok((metricSample(text, "auth_limits_local_fallbacks_total", {}) ?? 0) >= 1);
  t.equal(metricSample(text, "auth_session_cache_enabled", {}), 1, "the session cache does not depend on Redis");
});
