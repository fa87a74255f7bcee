import fp from "fastify-plugin";
import Type from "typebox";
import { checkReadiness, createRedis, healthRoutes, redisAnswers, type ReadinessReport, type RedisTopology } from "@temetro/shared";
import { ownMigrations } from "../db/schema.js";
import { observeDependencies, type DependencyName, type RedisPersistence } from "./metrics.js";

/** A check must answer within this; a dependency that hangs is as unreachable as one that is down. */
const CHECK_TIMEOUT_MS = 1000;

/** What this replica last learnt of the schema: it survives PostgreSQL being unreachable. */
type SchemaState = "unknown" | "ok" | "missing";

/** SQLSTATEs that mean PostgreSQL answered but the schema (or the database) is not there. */
const SCHEMA_MISSING_CODES = new Set(["42P01", "3D000"]);

class SchemaMissing extends Error {}

/** What this service's readiness adds to the checks. */
const readinessDetails = {
  redisPersistence: Type.Union([Type.Literal("aof"), Type.Literal("rdb"), Type.Literal("none"), Type.Literal("unknown")]),
  sessionCache: Type.Union([Type.Literal("on"), Type.Literal("off")]),
};

/**
 * What this service's GET /health/ready reports (shared/src/health.ts serves it and /health/live):
 * can this replica serve? It cannot while starting (the schema has never been
 * confirmed), when the schema is missing, and once shutting down. PostgreSQL and Redis are shared
 * by every replica: when one of them is unreachable every replica is in the same state, taking
 * them all out of the balancer would only turn documented answers (503 with Retry-After, requests
 * that work without Redis) into the balancer's own errors. They are reported in the body and in
 * `auth_dependency_up` as degraded instead.
 */
export default fp(
  async (app, options: { redis: RedisTopology | string }) => {
    let schema: SchemaState = "unknown";
    let redisPersistence: RedisPersistence = "unknown";

    // Its own connection: readiness must not queue behind the traffic it is asked about.
    const redis = createRedis(options.redis, "request", { connectionName: "temetro-health" });
    redis.on("error", () => {}); // the check reports it
    // At start and after every reconnect (Redis may have come back with another configuration).
    redis.on("ready", () => void checkRedisPersistence());

    async function checkRedisPersistence(): Promise<void> {
      let mode: RedisPersistence;
      try {
        // INFO works on managed Redis where CONFIG is often refused.
        const info = await redis.info("persistence");
        if (/^aof_enabled:1\b/m.test(info)) mode = "aof";
        else {
          try {
            const [, save] = (await redis.config("GET", "save")) as string[];
            mode = save?.trim() ? "rdb" : "none";
          } catch {
            mode = "unknown";
          }
        }
      } catch {
        return; // unreachable again: checked on the next connection
      }
      if (mode === redisPersistence) return;
      redisPersistence = mode;
      if (mode === "none") {
        app.log.warn({ redisPersistence: mode }, "Redis keeps nothing on disk (no AOF, no RDB snapshots): queued emails are lost when it restarts; run it with appendonly yes");
      } else if (mode === "rdb") {
        app.log.warn({ redisPersistence: mode }, "Redis persists by RDB snapshots only: emails queued since the last snapshot are lost when it restarts; AOF is recommended");
      } else if (mode === "unknown") {
        app.log.warn({ redisPersistence: mode }, "cannot tell whether Redis keeps its data (AOF off, CONFIG refused): queued emails may be lost when it restarts");
      }
    }

    const checks: Record<DependencyName, () => Promise<void>> = {
      postgres: async () => {
        let complete: boolean;
        try {
          const { rows } = await app.pg.query<{ session: string | null; applied: number }>(
            `SELECT to_regclass('session')::text AS session,
                    (SELECT count(*)::int FROM temetro_migration WHERE id = ANY($1)) AS applied`,
            [ownMigrations.map((migration) => migration.id)],
          );
          complete = Boolean(rows[0]?.session) && rows[0]?.applied === ownMigrations.length;
        } catch (error) {
          if (!SCHEMA_MISSING_CODES.has((error as { code?: string }).code ?? "")) throw error;
          complete = false;
        }
        // PostgreSQL answered: the schema state is known again (it is remembered while it is unreachable).
        schema = complete ? "ok" : "missing";
        if (!complete) throw new SchemaMissing("schema not migrated");
      },
      redis: redisAnswers(redis, CHECK_TIMEOUT_MS),
    };

    let running: ReturnType<typeof checkDependencies> | undefined;
    async function checkDependencies() {
      const readiness = await checkReadiness(checks, CHECK_TIMEOUT_MS);
      // A missing schema is PostgreSQL answering: reachable.
      const postgresUp = readiness.checks.postgres === "ok" || schema === "missing";
      const up: Record<DependencyName, boolean> = { postgres: postgresUp, redis: readiness.checks.redis === "ok" };
      return { up, schema, redisPersistence };
    }
    /** One check at a time: readiness probes and metric scrapes arriving together share it. */
    const check = () => (running ??= checkDependencies().finally(() => (running = undefined)));

    observeDependencies(app.metrics.registry, { check });

    async function report(): Promise<ReadinessReport<typeof readinessDetails>> {
      const state = await check();
      const checks = { postgres: state.up.postgres ? "ok" : "down", redis: state.up.redis ? "ok" : "down", schema: state.schema };
      const details = { checks, redisPersistence: state.redisPersistence, sessionCache: app.sessions.directory.isCaching ? "on" : "off" } as const;
      if (state.schema === "ok") return { state: state.up.postgres && state.up.redis ? "ready" : "degraded", ...details };
      const reason =
        state.schema === "missing"
          ? "Not ready: the database schema is not migrated (run npm run migrate)"
          : "Not ready: starting (the schema could not be checked yet: PostgreSQL unreachable)";
      return { state: "unready", reason, ...details };
    }
    await app.register(healthRoutes, { details: readinessDetails, report });

    app.addHook("onClose", async () => {
      redis.disconnect();
    });
  },
  { name: "health", dependencies: ["db", "metrics", "sessions"] },
);
