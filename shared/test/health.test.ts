// The health routes every service serves: live, ready as the service reports it, 503 once shutting
// down; answers carry exactly the declared fields.
import Fastify from "fastify";
import t, { type Test } from "tap";
import Type from "typebox";
import { healthRoutes, type ReadinessReport } from "../src/health.js";

const details = { version: Type.String() };

async function appReporting(t: Test, report: () => ReadinessReport<typeof details> & Record<string, unknown>) {
  const app = Fastify();
  await app.register(healthRoutes, { details, report: async () => report() });
  t.teardown(() => app.close());
  return app;
}

t.test("ready and degraded answer 200 with the checks and the service's details, nothing else", async (t) => {
  const app = await appReporting(t, () => ({ state: "degraded", checks: { redis: "down" }, version: "1.2.3", secret: "not for probes" }));
  const ready = await app.inject({ method: "GET", url: "/health/ready" });
  t.equal(ready.statusCode, 200);
  t.same(ready.json(), { status: "degraded", checks: { redis: "down" }, version: "1.2.3" });
  t.same((await app.inject({ method: "GET", url: "/health/live" })).json(), { status: "ok" });
});

t.test("unready answers 503 NOT_READY with the reason, the checks and the details", async (t) => {
  const app = await appReporting(t, () => ({ state: "unready", reason: "Not ready: redis unavailable", checks: { redis: "down" }, version: "1.2.3" }));
  const ready = await app.inject({ method: "GET", url: "/health/ready" });
  t.equal(ready.statusCode, 503);
  t.same(ready.json(), { error: "Not ready: redis unavailable", code: "NOT_READY", message: "Not ready: redis unavailable", checks: { redis: "down" }, version: "1.2.3" });
});

t.test("once shutdown begins, ready answers 503 SHUTTING_DOWN without asking the service; live stays 200", async (t) => {
  let asked = 0;
  const app = await appReporting(t, () => {
    asked += 1;
    return { state: "ready", checks: {}, version: "1.2.3" };
  });
  app.beginShutdown();
  const ready = await app.inject({ method: "GET", url: "/health/ready" });
  t.equal(ready.statusCode, 503);
  t.same(ready.json(), { error: "Shutting down", code: "SHUTTING_DOWN", message: "Shutting down" });
  t.equal(asked, 0);
  t.equal((await app.inject({ method: "GET", url: "/health/live" })).statusCode, 200);
});
