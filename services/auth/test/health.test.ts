// /health/live and /health/ready: what Kubernetes' probes and load balancers ask. Readiness says
// whether this replica can serve; PostgreSQL and Redis, shared by every replica, show as degraded.
import { once } from "node:events";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import t, { type Test } from "tap";
import { buildTestApp, testDatabaseUrl } from "@temetro/test-support/auth-app";
import { waitUntil } from "@temetro/test-support/polling";
import { SpareRedis } from "@temetro/test-support/spare-redis";

t.test("live answers 200 and ready reports PostgreSQL, Redis, the schema and Redis' persistence", async (t) => {
  const { app } = await buildTestApp(t);
  const live = await app.inject({ method: "GET", url: "/health/live" });
  t.equal(live.statusCode, 200);
  t.same(live.json(), { status: "ok" });

  const ready = await app.inject({ method: "GET", url: "/health/ready" });
  t.equal(ready.statusCode, 200);
  t.match(ready.json(), { status: "ready", checks: { postgres: "ok", redis: "ok", schema: "ok" } });
  // The machine's Redis keeps nothing on disk (started with no AOF and no snapshots).
  t.match(ready.json().redisPersistence, /^(none|rdb|aof|unknown)$/);
});

t.test("without persistence, Redis is named in readiness and warned about at start", async (t) => {
  const redis = await SpareRedis.start(t); // --save "" --appendonly no
  const { app, logs } = await buildTestApp(t, { env: { REDIS_URL: redis.url } });
  await waitUntil(() => logs.lines.some((line) => line.redisPersistence === "none"), "the persistence warning");
  const ready = await app.inject({ method: "GET", url: "/health/ready" });
  t.equal(ready.statusCode, 200);
  t.equal(ready.json().redisPersistence, "none");
  t.match(logs.lines.find((line) => line.redisPersistence === "none"), { level: 40, msg: /queued emails are lost/ });
});

t.test("Redis unreachable: ready stays 200 and reports it degraded; live 200", async (t) => {
  const { app } = await buildTestApp(t, { env: { REDIS_URL: "redis://127.0.0.1:2" } });
  const ready = await app.inject({ method: "GET", url: "/health/ready" });
  t.equal(ready.statusCode, 200, "the replica still serves: requests work without Redis");
  t.match(ready.json(), { status: "degraded", checks: { postgres: "ok", redis: "down", schema: "ok" } });
  t.equal((await app.inject({ method: "GET", url: "/health/live" })).statusCode, 200);
});

t.test("Redis going down and coming back: ready stays 200 throughout", async (t) => {
  const redis = await SpareRedis.start(t);
  const { app } = await buildTestApp(t, { env: { REDIS_URL: redis.url } });
  const ready = async () => {
    const response = await app.inject({ method: "GET", url: "/health/ready" });
    return { status: response.statusCode, redis: response.json().checks.redis as string };
  };
  t.same(await ready(), { status: 200, redis: "ok" });
  await redis.down();
  t.same(await ready(), { status: 200, redis: "down" }, "down: degraded, not unready");
  await redis.up();
  await waitUntil(() => app.limiterStore.redis.status === "ready", "the app to reconnect");
  t.same(await ready(), { status: 200, redis: "ok" });
});

/** A TCP relay to the test database that the test can cut, as a network failure or a restart would. */
async function cuttablePostgres(t: Test) {
  const target = new URL(testDatabaseUrl);
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const open = async () => {
    server = createServer((client) => {
      const upstream = createConnection(Number(target.port), target.hostname);
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on("error", () => {});
        socket.on("close", () => sockets.delete(socket));
      }
      client.pipe(upstream).pipe(client);
    });
    server.listen(port, "127.0.0.1");
    await once(server, "listening");
    port = (server.address() as { port: number }).port;
  };
  const cut = async () => {
    const closing = server && new Promise((resolve) => server!.close(resolve));
    for (const socket of sockets) socket.destroy();
    await closing;
  };
  await open();
  t.teardown(cut);
  const url = new URL(testDatabaseUrl);
  url.port = String(port);
  return { url: url.toString(), cut };
}

t.test("PostgreSQL unreachable after the schema was confirmed: ready stays 200, degraded", async (t) => {
  await buildTestApp(t); // migrates the test database
  const postgres = await cuttablePostgres(t);
  const { app } = await buildTestApp(t, { env: { DATABASE_URL: postgres.url } });
  t.equal((await app.inject({ method: "GET", url: "/health/ready" })).statusCode, 200);

  await postgres.cut();
  const ready = await app.inject({ method: "GET", url: "/health/ready" });
  t.equal(ready.statusCode, 200, "every replica shares the outage: they keep answering 503 with Retry-After themselves");
  t.match(ready.json(), { status: "degraded", checks: { postgres: "down", redis: "ok", schema: "ok" }, sessionCache: "off" });
});

t.test("PostgreSQL unreachable since start: not ready, the schema was never confirmed", async (t) => {
  const { app } = await buildTestApp(t, { env: { DATABASE_URL: "postgres://postgres@127.0.0.1:1/x" } });
  const ready = await app.inject({ method: "GET", url: "/health/ready" });
  t.equal(ready.statusCode, 503);
  t.match(ready.json(), { code: "NOT_READY", error: /starting/, checks: { postgres: "down", redis: "ok", schema: "unknown" } });
});

t.test("ready answers 503 for a database whose schema was never migrated", async (t) => {
  const { app } = await buildTestApp(t, { env: { DATABASE_URL: "postgres://postgres@127.0.0.1:5432/postgres" } });
  const ready = await app.inject({ method: "GET", url: "/health/ready" });
  t.equal(ready.statusCode, 503);
  t.match(ready.json(), { code: "NOT_READY", error: /schema is not migrated/, checks: { postgres: "ok", schema: "missing" } });
});

t.test("once shutdown begins, ready answers 503 SHUTTING_DOWN while live stays 200", async (t) => {
  const { app } = await buildTestApp(t);
  app.beginShutdown();
  const ready = await app.inject({ method: "GET", url: "/health/ready" });
  t.equal(ready.statusCode, 503);
  t.same(ready.json(), { error: "Shutting down", code: "SHUTTING_DOWN", message: "Shutting down" });
  t.equal((await app.inject({ method: "GET", url: "/health/live" })).statusCode, 200);
});
