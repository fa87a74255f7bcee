import { databaseSettings, directDatabaseSettings } from "./database.js";
import { internalTokenSettings } from "./internal-tokens.js";
import { loggingSettings } from "./logging.js";
import { describeRedisTopology, redisSettings } from "./redis.js";
import { runtimeSettings } from "./runtime.js";
import { frontendSettings, hostSettings } from "./server.js";

export * from "./env.js";
export type { LogFormat } from "./logging.js";
export type { RedisNodeAddress, RedisTopology } from "./redis.js";
export { describeRedisTopology };
export { loadDotEnv, repositoryDotEnv } from "./dotenv.js";
export { databaseSettings, directDatabaseSettings, internalTokenSettings, frontendSettings, hostSettings, loggingSettings, redisSettings, runtimeSettings };

/** What every service reads: NODE_ENV, LOG_LEVEL, HOST, DATABASE_URL, the Redis topology (REDIS_URL, REDIS_SENTINELS..., REDIS_CLUSTER_NODES), REDIS_PREFIX, FRONTEND_URL. */
export const sharedSettings = [runtimeSettings, loggingSettings, hostSettings, databaseSettings, redisSettings, frontendSettings] as const;
