import { createHash, randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import type { FastifyInstance } from "fastify";
import pg from "pg";
import type { Test } from "tap";
import { buildApp } from "@temetro/auth/app";
import { loadConfig, type Config } from "@temetro/auth/config";
import { migrate } from "@temetro/auth/db/migrate";
import { createServiceLogger } from "@temetro/auth/logger";
import { captureLogs, type CapturedLogs } from "./captured-logs.js";
import { deleteKeysWithPrefix } from "./redis-keys.js";

export type { CapturedLogs };

/** The repository's root: test-support is one of its workspaces (packages/test-support/src or dist). */
export const repositoryRoot = fileURLToPath(new URL("../../..", import.meta.url));

/**
 * Each tap job gets its own database (and every app its own Redis key prefix), so test files run
 * in parallel without seeing each other's rows, jobs or counters.
 */
const jobId = process.env.TAP_JOB_ID ?? "0";
// Checkouts of the repository on one machine (worktrees, a CI clone) get databases of their own.
const checkout = createHash("sha256").update(repositoryRoot).digest("hex").slice(0, 8);
export const testDatabaseUrl = `postgres://postgres@127.0.0.1:5432/temetro_auth_test_${checkout}_${jobId}`;
export const testRedisUrl = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

/** Long enough for Better Auth; any value will do in tests. */
export const TEST_SECRET = "test-secret-that-is-long-enough-for-better-auth";

/** A Redis key prefix of its own; give two apps the same one (REDIS_PREFIX) to make them replicas. */
export const newRedisPrefix = () => `test-${jobId}-${randomUUID().slice(0, 8)}`;

/**
 * Limits high enough that tests of other behaviour never meet them (each app counts under its own
 * prefix, but one test may sign up and in many times from inject's one address). The limits'
 * own tests set the production values back, and the defaults are checked in shared/test/config.test.ts.
 */
export const generousLimits: Record<string, string> = {
  RATE_LIMIT_SIGN_IN: "10000",
  RATE_LIMIT_SIGN_UP: "10000",
  RATE_LIMIT_PASSWORD_RESET: "10000",
  RATE_LIMIT_VERIFICATION_EMAIL: "10000",
  RATE_LIMIT_RESET_COMPLETION: "10000",
  RATE_LIMIT_API: "100000",
  PASSWORD_HASH_CONCURRENCY: "16",
  DATABASE_POOL_MAX: "20",
};

/** The limits a deployment gets when it sets none. */
export const productionLimits: Record<string, string> = {
  RATE_LIMIT_SIGN_IN: "5",
  RATE_LIMIT_SIGN_UP: "3",
  RATE_LIMIT_PASSWORD_RESET: "3",
  RATE_LIMIT_VERIFICATION_EMAIL: "3",
  RATE_LIMIT_RESET_COMPLETION: "10",
  RATE_LIMIT_API: "600",
};

export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({
    ...generousLimits,
    DATABASE_URL: testDatabaseUrl,
    REDIS_URL: testRedisUrl,
    REDIS_PREFIX: newRedisPrefix(),
    BETTER_AUTH_SECRET: TEST_SECRET,
    BETTER_AUTH_URL: "http://localhost:4000",
    FRONTEND_URL: "http://localhost:3000",
    LOG_LEVEL: "info",
    ...env,
  });
}

let migrated: Promise<void> | undefined;

export interface TestApp {
  app: FastifyInstance;
  config: Config;
  logs: CapturedLogs;
}

export interface TestAppOptions {
  /** Environment variables on top of the test defaults. */
  env?: Record<string, string>;
  /** Adds routes or plugins before the app is ready, as a later module of the service would. */
  extend?: (app: FastifyInstance) => Promise<void>;
}

export async function buildTestApp(t: Test, { env = {}, extend }: TestAppOptions = {}): Promise<TestApp> {
  const config = testConfig(env);
  const { destination, logs } = captureLogs();
  const logger = createServiceLogger(config, destination);
  if (!env.DATABASE_URL) migrated ??= migrate(config, logger.child({}, { level: "warn" }));
  await migrated;

  const app = await buildApp({ config, logger });
  await extend?.(app);
  await app.ready();
  t.teardown(async () => {
    await app.close();
    await deleteKeysWithPrefix(testRedisUrl, config.redisPrefix);
    // An app pointed at an unreachable database wrote nothing there.
    if (!env.DATABASE_URL) await deleteOutboxRows(config);
  });
  return { app, config, logs };
}

/** Replicas of the service: apps sharing one Redis key prefix, and so every count and queue. */
export async function buildReplicas(t: Test, count: number, options: TestAppOptions = {}): Promise<TestApp[]> {
  const env = { REDIS_PREFIX: newRedisPrefix(), ...options.env };
  return Promise.all(Array.from({ length: count }, () => buildTestApp(t, { ...options, env })));
}

/** Emails an app left in the outbox (its Redis was unreachable): nobody will relay them. */
async function deleteOutboxRows(config: Config): Promise<void> {
  const client = new pg.Client({ connectionString: config.databaseUrl });
  await client.connect();
  try {
    await client.query("DELETE FROM email_outbox WHERE queue_prefix = $1", [config.redisPrefix]);
  } finally {
    await client.end();
  }
}
