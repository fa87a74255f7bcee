// /health/live and /health/ready: what Kubernetes' probes and load balancers ask.
import t from "tap";
import { buildTestApp } from "./fixtures/app.js";

t.test("live answers 200 and ready reports PostgreSQL, Redis and the schema", async (t) => {
  const { app } = await buildTestApp(t);
  const live = await app.inject({ method: "GET", url: "/health/live" });
  t.equal(live.statusCode, 200);
  t.same(live.json(), { status: "ok" });

  const ready = await app.inject({ method: "GET", url: "/health/ready" });
  t.equal(ready.statusCode, 200);
  t.same(ready.json(), { status: "ready", checks: { postgres: "ok", redis: "ok" } });
});

t.test("ready answers 503 naming Redis when Redis is unreachable; live still 200", async (t) => {
  const { app } = await buildTestApp(t, { env: { REDIS_URL: "redis://127.0.0.1:2" } });
  const ready = await app.inject({ method: "GET", url: "/health/ready" });
  t.equal(ready.statusCode, 503);
  t.match(ready.json(), { code: "NOT_READY", error: "Not ready: redis unavailable", checks: { postgres: "ok" } });
  t.not(ready.json().checks.redis, "ok");
  t.equal((await app.inject({ method: "GET", url: "/health/live" })).statusCode, 200);
});

t.test("ready answers 503 naming PostgreSQL when it is unreachable", async (t) => {
  const { app } = await buildTestApp(t, { env: { DATABASE_URL: "postgres://postgres@127.0.0.1:1/x" } });
  const ready = await app.inject({ method: "GET", url: "/health/ready" });
  t.equal(ready.statusCode, 503);
  t.match(ready.json(), { code: "NOT_READY", error: "Not ready: postgres unavailable", checks: { redis: "ok" } });
});

t.test("ready answers 503 for a database whose schema was never migrated", async (t) => {
  const { app } = await buildTestApp(t, { env: { DATABASE_URL: "postgres://postgres@127.0.0.1:5432/postgres" } });
  const ready = await app.inject({ method: "GET", url: "/health/ready" });
  t.equal(ready.statusCode, 503);
  t.match(ready.json().checks.postgres, /temetro_migration|schema not migrated/);
});

t.test("once shutdown begins, ready answers 503 SHUTTING_DOWN while live stays 200", async (t) => {
  const { app } = await buildTestApp(t);
  app.beginShutdown();
  const ready = await app.inject({ method: "GET", url: "/health/ready" });
  t.equal(ready.statusCode, 503);
  t.same(ready.json(), { error: "Shutting down", code: "SHUTTING_DOWN" });
  t.equal((await app.inject({ method: "GET", url: "/health/live" })).statusCode, 200);
});
