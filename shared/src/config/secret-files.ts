import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from "node:fs";

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

/** Far above any URL, token or key a variable holds; a bigger file is a wrong path, not a secret. */
export const MAX_SECRET_FILE_BYTES = 64 * 1024;

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
      env[name] = readSecretFile(path).replace(/\r?\n$/, "");
      files.set(name, path);
    } catch (error) {
      // A reason of our own, or the system's code (ENOENT, EACCES): never the error's message,
      // nothing of the file's content.
      const reason = error instanceof SecretFileRefusal ? error.message : ((error as NodeJS.ErrnoException).code ?? "unreadable");
      problems.push(`${fileVariable}: cannot read ${path} (${reason})`);
    }
    // An empty file is an empty variable: not set, as everywhere else.
    if (env[name] === "") delete env[name];
  }
  return { env, files, problems };
}

/** Why a file is not taken as a value; its message is shown as is (it holds nothing of the file). */
class SecretFileRefusal extends Error {}

/**
 * A secret file's text, or a refusal. Opened without blocking, so that a FIFO with no writer does
 * not hang the start, then checked on the open descriptor (no race with a swapped path): only a
 * regular file is read, after symlinks are followed (Kubernetes mounts each key as a symlink
 * through `..data` to a timestamped directory), and at most MAX_SECRET_FILE_BYTES of it (`/dev/zero`
 * or a log file would otherwise grow memory until the process is killed). Bytes that are not UTF-8
 * are refused rather than replaced by U+FFFD, which would make different secrets the same value.
 */
function readSecretFile(path: string): string {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new SecretFileRefusal(`${kindOf(stat)}, not a regular file`);
    if (stat.size > MAX_SECRET_FILE_BYTES) throw new SecretFileRefusal(tooLarge);
    // The size is a hint only (a file may grow while read; /proc reports 0): read until the end,
    // one byte past the cap at most.
    const buffer = Buffer.alloc(MAX_SECRET_FILE_BYTES + 1);
    let length = 0;
    while (length < buffer.length) {
      const read = readSync(fd, buffer, length, buffer.length - length, null);
      if (read === 0) break;
      length += read;
    }
    if (length > MAX_SECRET_FILE_BYTES) throw new SecretFileRefusal(tooLarge);
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(buffer.subarray(0, length));
    } catch {
      throw new SecretFileRefusal("not UTF-8 text");
    }
  } finally {
    closeSync(fd);
  }
}

const tooLarge = `larger than ${MAX_SECRET_FILE_BYTES / 1024} KiB`;

function kindOf(stat: Stats): string {
  if (stat.isDirectory()) return "a directory";
  if (stat.isFIFO()) return "a FIFO";
  if (stat.isCharacterDevice()) return "a character device";
  if (stat.isBlockDevice()) return "a block device";
  if (stat.isSocket()) return "a socket";
  return "not a file";
}
