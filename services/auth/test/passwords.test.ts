// Password policy and storage: length 12..128, argon2id PHC strings, Better Auth's scrypt hashes still verifying.
// (Every entrance's rules in detail, common passwords and reset links: password-rules.test.ts.)
import { hashPassword as betterAuthScryptHash } from "better-auth/crypto";
import t from "tap";
import { verifyPassword } from "../src/sign-in/password-hasher.js";
import { buildTestApp } from "@temetro/test-support/auth-app";
import { signIn, signUp, uniqueEmail } from "@temetro/test-support/auth-requests";

t.test("a password of 11 characters is refused, 12 accepted; 128 accepted, 129 refused", async (t) => {
  const { app } = await buildTestApp(t);
  const cases: [number, number, string?][] = [
    [11, 400, "PASSWORD_TOO_SHORT"],
    [12, 200],
    [128, 200],
    [129, 400, "PASSWORD_TOO_LONG"],
  ];
  for (const [length, status, code] of cases) {
    const response = await app.inject({
      method: "POST",
      url: "/api/auth/sign-up/email",
      // Not one letter repeated: that is refused whatever its length (PASSWORD_TOO_COMMON).
      payload: { name: "Length Test", email: uniqueEmail(`len${length}`), password: "the quick brown fox jumps over the lazy dog ".repeat(3).slice(0, length) },
    });
    t.equal(response.statusCode, status, `${length} characters`);
    if (code) t.equal(response.json().code, code);
  }
});

t.test("no composition rules: a long lowercase passphrase is fine", async (t) => {
  const { app } = await buildTestApp(t);
  const { email } = await signUp(app, { password: "correct horse battery staple" });
  t.equal((await signIn(app, email, "correct horse battery staple")).statusCode, 200);
});

t.test("passwords are stored as argon2id PHC strings at or above OWASP's minimum", async (t) => {
  const { app } = await buildTestApp(t);
  const { userId } = await signUp(app);
  const { rows } = await app.pg.query(`SELECT "password" FROM "account" WHERE "userId" = $1`, [userId]);
  t.match(rows[0].password, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/);
});

t.test("an account whose hash is in Better Auth's scrypt format still signs in", async (t) => {
  const { app } = await buildTestApp(t);
  const { email, userId } = await signUp(app);
  const legacyPassword = "password-from-the-old-install";
  const legacyHash = await betterAuthScryptHash(legacyPassword);
  t.match(legacyHash, /^[0-9a-f]{32}:[0-9a-f]{128}$/, "the format earlier installs wrote");
  await app.pg.query(`UPDATE "account" SET "password" = $1 WHERE "userId" = $2`, [legacyHash, userId]);

  t.equal((await signIn(app, email, legacyPassword)).statusCode, 200);
  t.equal((await signIn(app, email, "not-the-password-at-all")).statusCode, 401);
});

t.test("equivalent Unicode spellings of a password are the same password (NFKC)", async (t) => {
  const { app } = await buildTestApp(t);
  const composed = "caf\u00e9-au-lait-\u00fcber-alles";
  const decomposed = "cafe\u0301-au-lait-u\u0308ber-alles";
  const { email } = await signUp(app, { password: composed });
  t.equal((await signIn(app, email, decomposed)).statusCode, 200);
});

t.test("verifyPassword refuses what is not a known hash format", async (t) => {
  t.equal(await verifyPassword({ hash: "", password: "anything-at-all" }), false);
  t.equal(await verifyPassword({ hash: "plaintext-password", password: "plaintext-password" }), false);
  t.equal(await verifyPassword({ hash: "$argon2id$garbage", password: "anything-at-all" }), false);
  t.equal(await verifyPassword({ hash: `${"a".repeat(32)}:${"b".repeat(128)}`, password: "anything-at-all" }), false);
});
