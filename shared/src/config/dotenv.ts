import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseEnv } from "node:util";

/** The `.env` beside the repository's package.json (the same path from src/ and from dist/). */
export const repositoryDotEnv = fileURLToPath(new URL("../../../.env", import.meta.url));

/**
 * Reads a development `.env` into `env` (Node's own parser, the one of `node --env-file`; variables
 * already set win, as there), so a newcomer writes their settings once instead of exporting them in
 * every shell. Never with NODE_ENV=production: a production process is configured by its deployment
 * alone (and the image has no `.env`: .dockerignore leaves it out). Returns the file read, if any.
 */
export function loadDotEnv(env: NodeJS.ProcessEnv = process.env, path = repositoryDotEnv): string | undefined {
  if (env.NODE_ENV === "production" || !existsSync(path)) return undefined;
  for (const [name, value] of Object.entries(parseEnv(readFileSync(path, "utf8")))) {
    if (env[name] === undefined && value !== undefined) env[name] = value;
  }
  return path;
}
