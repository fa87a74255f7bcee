// The auth service as a real process, started the way `npm start` starts it.
import { repositoryRoot, TEST_SECRET, testDatabaseUrl, testRedisUrl } from "./auth-app.js";
import { outputMatch, startCollected, typeScriptEntry, type CollectedProcess } from "./processes.js";

const serverPath = `${repositoryRoot}/services/auth/src/server.ts`;

export interface RunningServer extends CollectedProcess {
  /** The public listener's address, once it listens; rejects if the process exits first. */
  baseUrl: Promise<string>;
}

/**
 * The environment of a service process (auth, mailer, or both through `npm start`): every listener
 * on a free port of 127.0.0.1, the test database and Redis, keys under `redisPrefix`.
 */
export function serviceProcessEnv(redisPrefix: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "",
    HOST: "127.0.0.1",
    PORT: "0",
    INTERNAL_PORT: "0",
    MAILER_HTTP_PORT: "0",
    DATABASE_URL: testDatabaseUrl,
    REDIS_URL: testRedisUrl,
    REDIS_PREFIX: redisPrefix,
    BETTER_AUTH_SECRET: TEST_SECRET,
  };
}

export function startServer(env: Record<string, string>): RunningServer {
  const server = startCollected(process.execPath, typeScriptEntry(serverPath), {
    env: { ...serviceProcessEnv(`test-server-${process.pid}`), ...env },
  });
  const baseUrl = outputMatch(server, /Server listening at (http:\/\/127\.0\.0\.1:\d+)/, "listening").then((match) => match[1]!);
  baseUrl.catch(() => {});
  return { ...server, baseUrl };
}
