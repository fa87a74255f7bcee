import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";

/**
 * The BETTER_AUTH_SECRET of a development machine that set none: generated once and kept in a
 * file, so sessions survive a restart. Never used when NODE_ENV=production.
 */
export function developmentSecret(file: string, warn?: (message: string) => void): string {
  if (existsSync(file)) {
    const kept = readFileSync(file, "utf8").trim();
    if (kept.length >= 32) return kept;
  }
  const generated = randomBytes(32).toString("base64url");
  writeFileSync(file, `${generated}\n`, { mode: 0o600 });
  warn?.(
    `BETTER_AUTH_SECRET is not set: generated a development secret and kept it in ${file}. ` +
      "Set BETTER_AUTH_SECRET in production (it is required when NODE_ENV=production).",
  );
  return generated;
}
