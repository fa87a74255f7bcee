// The auth service as a real process, started the way `npm start` starts it.
import { repositoryRoot, testDatabaseUrl, testRedisUrl } from "./auth-app.js";
import { outputMatch, startCollected, typeScriptEntry, type CollectedProcess } from "./processes.js";

const serverPath = `${repositoryRoot}/services/auth/src/server.ts`;

export interface RunningServer extends CollectedProcess {
  /** The public listener's address, once it listens; rejects if the process exits first. */
  baseUrl: Promise<string>;
}

export function startServer(env: Record<string, string>): RunningServer {
  const server = startCollected(process.execPath, typeScriptEntry(serverPath), {
    env: {
      PATH: process.env.PATH,
      PORT: "0",
      INTERNAL_PORT: "0",
      HOST: "127.0.0.1",
      DATABASE_URL: testDatabaseUrl,
      REDIS_URL: testRedisUrl,
      REDIS_PREFIX: `test-server-${process.pid}`,
      BETTER_AUTH_SECRET: "test-secret-that-is-long-enough-for-better-auth",
      ...env,
    },
  });
  const baseUrl = outputMatch(server, /Server listening at (http:\/\/127\.0\.0\.1:\d+)/, "listening").then((match) => match[1]!);
  baseUrl.catch(() => {});
  return { ...server, baseUrl };
}
