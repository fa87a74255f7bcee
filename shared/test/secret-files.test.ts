// `<NAME>_FILE`: any variable a service reads may come from a file, the way a mounted Kubernetes
// Secret or a Compose secret arrives. What a person sees when it goes wrong names the variable and
// the path, never the value.
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import * as z from "zod";
import { ConfigError, databaseSettings, internalTokenSettings, readEnvironment, sharedSettings } from "../src/config/index.js";

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
  const folder = join(directory, "a-folder");
  mkdirSync(folder);
  t.throws(() => readEnvironment({ DATABASE_URL_FILE: folder }, sharedSettings), { message: `DATABASE_URL_FILE: cannot read ${folder} (EISDIR)` });
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
