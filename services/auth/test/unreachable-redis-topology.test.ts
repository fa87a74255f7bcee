import t from "tap";
import { testDatabaseUrl } from "@temetro/test-support/auth-app";
import { findUnreachableDependencies } from "../src/db/check.js";

// What `npm start` says when the Redis it is pointed at does not answer, on each topology: where it
// looked and which variable to change, never a password.

t.test("an unreachable Sentinel set is named by its primary's name and sentinels, and REDIS_SENTINELS", async (t) => {
  const [problem] = await findUnreachableDependencies(
    {
      databaseUrl: testDatabaseUrl,
      redis: { kind: "sentinel", sentinels: [{ host: "127.0.0.1", port: 1 }], name: "temetro-primary", password: "data-secret", sentinelPassword: "sentinel-secret", tls: false },
    },
    ["redis"],
  );
  t.match(problem, /^Redis is not reachable at the primary "temetro-primary" of the sentinels 127\.0\.0\.1:1 \(REDIS_SENTINELS\): .+ or set REDIS_SENTINELS\.$/);
  t.notMatch(problem, /secret/);
});

t.test("an unreachable Cluster is named by its nodes and REDIS_CLUSTER_NODES", async (t) => {
  const [problem] = await findUnreachableDependencies(
    { databaseUrl: testDatabaseUrl, redis: { kind: "cluster", nodes: [{ host: "127.0.0.1", port: 1 }], password: "data-secret", tls: false } },
    ["redis"],
  );
  t.match(problem, /^Redis is not reachable at the cluster 127\.0\.0\.1:1 \(REDIS_CLUSTER_NODES\): .+ or set REDIS_CLUSTER_NODES\.$/);
  t.notMatch(problem, /secret/);
});
