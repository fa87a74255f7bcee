// `<NAME>_FILE`: any variable a service reads may come from a file, the way a mounted Kubernetes
// Secret or a Compose secret arrives. What a person sees when it goes wrong names the variable and
// the path, never the value.
import { execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, renameSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t, { type Test } from "tap";
import * as z from "zod";
import { ConfigError, databaseSettings, internalTokenSettings, readEnvironment, sharedSettings } from "../src/config/index.js";
import { MAX_SECRET_FILE_BYTES } from "../src/config/secret-files.js";

const secret = "s3cr3t-value-that-must-never-be-printed-0123456789";
const directory = mkdtempSync(join(tmpdir(), "temetro-secret-files-"));
const file = (name: string, content: string) => {
  const path = join(directory, name);
  writeFileSync(path, content, { mode: 0o600 });
  return path;
};

t.test("a variable's value comes from its _FILE, one trailing newline dropped (kubectl create secret --from-file)", async (t) => {
  const config = readEnvironment(
    {
      DATABASE_URL_FILE: file("database-url", "postgres://app:pw@10.0.0.5:5432/auth\n"),
      INTERNAL_TOKEN_FILE: file("internal-token", `${secret}\r\n`),
    },
    [databaseSettings, internalTokenSettings],
  );
  t.equal(config.databaseUrl, "postgres://app:pw@10.0.0.5:5432/auth");
  t.equal(config.internalToken, secret, "CRLF dropped too");
  t.equal(config.metricsToken, secret, "what the value feeds follows it");
});

t.test("only one newline is dropped: a value that ends in spaces or a second newline keeps them", async (t) => {
  const piece = z.object({ TOKEN: z.string() });
  t.same(readEnvironment({ TOKEN_FILE: file("two-newlines", "abc \n\n") }, [piece]), { TOKEN: "abc \n" });
});

t.test("an empty file is an unset variable, as an empty variable is", async (t) => {
  t.equal(readEnvironment({ INTERNAL_TOKEN_FILE: file("empty", "\n") }, [internalTokenSettings]).internalToken, undefined);
});

t.test("a file that cannot be read stops the start naming the variable and the path", async (t) => {
  const missing = join(directory, "no-such-file");
  const error = t.throws(() => readEnvironment({ DATABASE_URL_FILE: missing }, sharedSettings)) as ConfigError;
  t.type(error, ConfigError);
  t.same(error.problems, [`DATABASE_URL_FILE: cannot read ${missing} (ENOENT)`]);
});

/** The one problem a start is refused with when `variable` points at `path`. */
function refusal(t: Test, variable: string, path: string): string {
  const error = t.throws(() => readEnvironment({ [variable]: path }, [databaseSettings, internalTokenSettings])) as ConfigError;
  t.type(error, ConfigError);
  return error.problems.join("\n");
}

t.test("a directory is refused as not a regular file", async (t) => {
  const folder = join(directory, "a-folder");
  mkdirSync(folder);
  t.equal(refusal(t, "DATABASE_URL_FILE", folder), `DATABASE_URL_FILE: cannot read ${folder} (a directory, not a regular file)`);
});

t.test("a FIFO is refused at once instead of waiting forever for a writer", async (t) => {
  const fifo = join(directory, "a-fifo");
  execFileSync("mkfifo", [fifo]);
  // No writer ever opens it: a blocking open or read would hang this test until tap's timeout.
  t.equal(refusal(t, "INTERNAL_TOKEN_FILE", fifo), `INTERNAL_TOKEN_FILE: cannot read ${fifo} (a FIFO, not a regular file)`);
});

t.test("/dev/zero is refused instead of being read until memory runs out", async (t) => {
  t.equal(refusal(t, "INTERNAL_TOKEN_FILE", "/dev/zero"), "INTERNAL_TOKEN_FILE: cannot read /dev/zero (a character device, not a regular file)");
});

t.test(`a file over ${MAX_SECRET_FILE_BYTES / 1024} KiB is refused; one of exactly that size is read`, async (t) => {
  const big = file("too-big", `${secret}${"x".repeat(MAX_SECRET_FILE_BYTES)}`);
  const problem = refusal(t, "INTERNAL_TOKEN_FILE", big);
  t.equal(problem, `INTERNAL_TOKEN_FILE: cannot read ${big} (larger than 64 KiB)`);
  t.notMatch(problem, secret);
  const atTheCap = "y".repeat(MAX_SECRET_FILE_BYTES);
  t.equal(readEnvironment({ INTERNAL_TOKEN_FILE: file("at-the-cap", atTheCap) }, [internalTokenSettings]).internalToken, atTheCap);
});

t.test("bytes that are not UTF-8 are refused, not turned into U+FFFD (two secrets would become one)", async (t) => {
  const path = join(directory, "latin1-token");
  // "s3cr3t-é..." in Latin-1: 0xE9 alone is no UTF-8; nor is 0xFF, which another secret could hold there.
  writeFileSync(path, Buffer.concat([Buffer.from("s3cr3t-"), Buffer.from([0xe9]), Buffer.from("-0123456789abcdef0123456789abcdef")]));
  const problem = refusal(t, "INTERNAL_TOKEN_FILE", path);
  t.equal(problem, `INTERNAL_TOKEN_FILE: cannot read ${path} (not UTF-8 text)`);
  t.notMatch(problem, "s3cr3t");
  const accented = "s3cr3t-é-0123456789abcdef0123456789abcdef";
  t.equal(readEnvironment({ INTERNAL_TOKEN_FILE: file("utf8-token", accented) }, [internalTokenSettings]).internalToken, accented, "UTF-8 text is read as such");
});

t.test("a Kubernetes Secret volume's symlinks (key -> ..data/key, ..data -> timestamped directory) are followed", async (t) => {
  // What the kubelet lays out, and how it swaps in a new version of the Secret: a new timestamped
  // directory, `..data` re-pointed at it by an atomic rename.
  const mount = join(directory, "secret-volume");
  mkdirSync(join(mount, "..2026_12_01_03_00_00.000000001"), { recursive: true });
  writeFileSync(join(mount, "..2026_12_01_03_00_00.000000001", "INTERNAL_TOKEN"), `${secret}\n`);
  symlinkSync("..2026_12_01_03_00_00.000000001", join(mount, "..data"));
  symlinkSync("..data/INTERNAL_TOKEN", join(mount, "INTERNAL_TOKEN"));
  const key = join(mount, "INTERNAL_TOKEN");
  t.equal(readEnvironment({ INTERNAL_TOKEN_FILE: key }, [internalTokenSettings]).internalToken, secret);

  const rotated = `${secret}-rotated`;
  mkdirSync(join(mount, "..2026_12_01_04_00_00.000000002"));
  writeFileSync(join(mount, "..2026_12_01_04_00_00.000000002", "INTERNAL_TOKEN"), `${rotated}\n`);
  symlinkSync("..2026_12_01_04_00_00.000000002", join(mount, "..data_tmp"));
  renameSync(join(mount, "..data_tmp"), join(mount, "..data"));
  t.equal(readEnvironment({ INTERNAL_TOKEN_FILE: key }, [internalTokenSettings]).internalToken, rotated, "a restart after a rotation reads the new value");

  // A link whose end is not a regular file is refused like the file itself.
  const toDevice = join(directory, "link-to-zero");
  symlinkSync("/dev/zero", toDevice);
  t.equal(refusal(t, "INTERNAL_TOKEN_FILE", toDevice), `INTERNAL_TOKEN_FILE: cannot read ${toDevice} (a character device, not a regular file)`);
});

t.test("a variable set both ways is refused rather than one silently winning", async (t) => {
  const error = t.throws(() =>
    readEnvironment({ INTERNAL_TOKEN: secret, INTERNAL_TOKEN_FILE: file("token", secret) }, [internalTokenSettings]),
  ) as ConfigError;
  t.same(error.problems, ["INTERNAL_TOKEN_FILE: set either INTERNAL_TOKEN or INTERNAL_TOKEN_FILE, not both"]);
  t.notMatch(error.message, secret);
  // An empty variable is not set: the file alone counts (the dev overlay's empty literals).
  t.equal(readEnvironment({ INTERNAL_TOKEN: "", INTERNAL_TOKEN_FILE: file("token2", secret) }, [internalTokenSettings]).internalToken, secret);
});

t.test("a bad value read from a file is refused naming the variable and its file, never the value", async (t) => {
  const short = "short-secret-value";
  const path = file("short-token", short);
  const badUrl = "mysql://user:hunter2@db/x";
  const urlPath = file("bad-url", badUrl);
  const error = t.throws(() =>
    readEnvironment({ INTERNAL_TOKEN_FILE: path, DATABASE_URL_FILE: urlPath }, [databaseSettings, internalTokenSettings]),
  ) as ConfigError;
  t.same(error.problems, [
    `DATABASE_URL (read from ${urlPath}): must be a postgres:// URL`,
    `INTERNAL_TOKEN (read from ${path}): must be at least 32 characters (e.g. \`openssl rand -base64 32\`)`,
  ]);
  t.notMatch(error.message, short);
  t.notMatch(error.message, "hunter2");
});

t.test("only variables a piece reads are taken from files: an unrelated *_FILE is never opened", async (t) => {
  const config = readEnvironment({ SSL_CERT_FILE: join(directory, "not-there.pem"), NODE_OPTIONS_FILE: "/nonexistent" }, sharedSettings);
  t.equal(config.databaseUrl, "postgres://postgres@127.0.0.1:5432/temetro_auth");
});
