import { readFileSync } from "node:fs";

/**
 * `<NAME>_FILE`: a variable's value read from a file, the way orchestrators hand secrets over
 * (a Kubernetes Secret mounted as a volume, Docker/Compose secrets under /run/secrets), so that a
 * secret is not in the process's environment, where `kubectl describe`, crash reports and child
 * processes would see it.
 */
export interface FileVariables {
  /** The environment with each `<NAME>` filled from its file. */
  env: Record<string, string>;
  /** Which variables came from which file: a problem with such a variable names the file. */
  files: Map<string, string>;
  /** What could not be read, or was set twice: each names the variable and the path, never a value. */
  problems: string[];
}

export const FILE_SUFFIX = "_FILE";

/**
 * Fills every variable of `names` whose `<NAME>_FILE` is set from that file. One trailing newline
 * is dropped: `kubectl create secret --from-file` and `echo x > file` leave one. Setting both
 * `<NAME>` and `<NAME>_FILE` is refused rather than one silently winning.
 */
export function readFileVariables(present: Record<string, string>, names: Iterable<string>): FileVariables {
  const env = { ...present };
  const files = new Map<string, string>();
  const problems: string[] = [];
  for (const name of names) {
    const fileVariable = `${name}${FILE_SUFFIX}`;
    const path = present[fileVariable];
    if (path === undefined) continue;
    if (present[name] !== undefined) {
      problems.push(`${fileVariable}: set either ${name} or ${fileVariable}, not both`);
      continue;
    }
    try {
      env[name] = readFileSync(path, "utf8").replace(/\r?\n$/, "");
      files.set(name, path);
    } catch (error) {
      // The code (ENOENT, EACCES, EISDIR), not the error's message: nothing of the file's content.
      const code = (error as NodeJS.ErrnoException).code ?? "unreadable";
      problems.push(`${fileVariable}: cannot read ${path} (${code})`);
    }
    // An empty file is an empty variable: not set, as everywhere else.
    if (env[name] === "") delete env[name];
  }
  return { env, files, problems };
}
