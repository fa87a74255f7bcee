import t, { type Test } from "tap";
import { Cluster, Redis } from "ioredis";
import { ConfigError, describeRedisTopology, readEnvironment, redisSettings, type Environment } from "../src/config/index.js";
import { createRedis, emailQueuePrefix, slotTag } from "../src/redis.js";

const read = (env: Environment) => readEnvironment(env, [redisSettings]);
const problems = (t: Test, env: Environment) => (t.throws(() => read(env)) as ConfigError).problems;

t.test("REDIS_SENTINELS and REDIS_SENTINEL_NAME give a Sentinel topology, with its passwords and TLS", async (t) => {
  const config = read({
    REDIS_SENTINELS: "10.0.0.1:26379, 10.0.0.2,[fd00::3]:26380",
    REDIS_SENTINEL_NAME: "temetro-primary",
    REDIS_SENTINEL_PASSWORD: "sentinel-secret",
    REDIS_USERNAME: "temetro",
    REDIS_PASSWORD: "data-secret",
    REDIS_TLS: "true",
  });
  t.same(config.redis, {
    kind: "sentinel",
    sentinels: [
      { host: "10.0.0.1", port: 26379 },
      { host: "10.0.0.2", port: 26379 },
      { host: "fd00::3", port: 26380 },
    ],
    name: "temetro-primary",
    sentinelPassword: "sentinel-secret",
    username: "temetro",
    password: "data-secret",
    tls: true,
  });
  t.equal(describeRedisTopology(config.redis), 'the primary "temetro-primary" of the sentinels 10.0.0.1:26379,10.0.0.2:26379,[fd00::3]:26380 (REDIS_SENTINELS)');
  t.notMatch(describeRedisTopology(config.redis), /secret/, "no password in what is shown to a person");
});

t.test("REDIS_CLUSTER_NODES gives a Cluster topology; no variable at all, the one local server", async (t) => {
  t.same(read({ REDIS_CLUSTER_NODES: "10.0.1.1:7000,10.0.1.2:7001", REDIS_PASSWORD: "p" }).redis, {
    kind: "cluster",
    nodes: [
      { host: "10.0.1.1", port: 7000 },
      { host: "10.0.1.2", port: 7001 },
    ],
    password: "p",
    tls: false,
  });
  t.same(read({}).redis, { kind: "single", url: "redis://127.0.0.1:6379" });
});

t.test("two topologies at once are refused, naming the variables", async (t) => {
  t.same(problems(t, { REDIS_URL: "redis://10.0.0.9:6379", REDIS_CLUSTER_NODES: "10.0.1.1:7000" }), [
    "REDIS_URL: REDIS_URL, REDIS_CLUSTER_NODES are set together: give one Redis topology, REDIS_URL (one server), REDIS_SENTINELS with REDIS_SENTINEL_NAME (Sentinel) or REDIS_CLUSTER_NODES (Cluster)",
  ]);
  t.match(problems(t, { REDIS_SENTINELS: "10.0.0.1", REDIS_SENTINEL_NAME: "m", REDIS_CLUSTER_NODES: "10.0.1.1:7000" })[0], /REDIS_SENTINELS, REDIS_SENTINEL_NAME, REDIS_CLUSTER_NODES are set together/);
});

t.test("a Sentinel set without its name (or sentinels) is refused, saying what is missing", async (t) => {
  t.match(problems(t, { REDIS_SENTINELS: "10.0.0.1:26379" }), [/^REDIS_SENTINEL_NAME: is required with REDIS_SENTINELS/]);
  t.match(problems(t, { REDIS_SENTINEL_NAME: "m" }), [/^REDIS_SENTINELS: is required with REDIS_SENTINEL_NAME/]);
});

t.test("bad addresses, and credentials beside REDIS_URL, are refused", async (t) => {
  t.match(problems(t, { REDIS_CLUSTER_NODES: "10.0.1.1:7000,10.0.1.2:99999" }), [/^REDIS_CLUSTER_NODES: "10\.0\.1\.2:99999" is not host:port/]);
  t.match(problems(t, { REDIS_SENTINELS: ",", REDIS_SENTINEL_NAME: "m" }), [/^REDIS_SENTINELS: names no node/]);
  t.match(problems(t, { REDIS_URL: "redis://10.0.0.9:6379", REDIS_PASSWORD: "p" }), [/^REDIS_PASSWORD: applies to REDIS_SENTINELS and REDIS_CLUSTER_NODES; with REDIS_URL put it in the URL/]);
  t.match(problems(t, { REDIS_TLS: "yes", REDIS_CLUSTER_NODES: "10.0.1.1" }), [/^REDIS_TLS: must be true or false/]);
});

t.test("each topology gets its kind of connection; only a Cluster's keys get hash tags", async (t) => {
  const cluster = { kind: "cluster" as const, nodes: [{ host: "127.0.0.1", port: 1 }], tls: false };
  const sentinel = { kind: "sentinel" as const, sentinels: [{ host: "127.0.0.1", port: 1 }], name: "m", tls: false };
  for (const [topology, type] of [
    ["redis://127.0.0.1:1", Redis],
    [sentinel, Redis],
    [cluster, Cluster],
  ] as const) {
    const connection = createRedis(topology, "request", { lazyConnect: true });
    t.type(connection, type);
    connection.disconnect();
  }
  t.equal(emailQueuePrefix("redis://127.0.0.1:6379", "temetro"), "temetro", "one server keeps today's queue prefix: no job orphaned by the upgrade");
  t.equal(emailQueuePrefix(sentinel, "temetro"), "temetro");
  t.equal(emailQueuePrefix(cluster, "temetro"), "{temetro}");
  t.equal(slotTag(cluster, "abc"), "{abc}");
});
