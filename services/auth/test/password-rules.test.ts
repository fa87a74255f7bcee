// Issue 13, points 6-8: what a new password must be, on every entrance that sets one (12-128 code
// points after NFKC, not a common password), and the reset links a new password ends.
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import t from "tap";
import { errorCodes } from "@temetro/auth-client/errors";
import { buildReplicas, buildTestApp } from "@temetro/test-support/auth-app";
import {
  createClinic,
  createStaff,
  emailsTo,
  PASSWORD,
  pathOf,
  signIn,
  signInByUsername,
  signUp,
  uniqueEmail,
  uniqueUsername,
} from "@temetro/test-support/auth-requests";

type Entrance = (password: string) => Promise<LightMyRequestResponse>;

const resetLinksTo = async (app: FastifyInstance, email: string) =>
  (await emailsTo(app, email)).filter((job) => job.kind === "reset-password").map((job) => job.url);

/** A new reset link for `email`, asked for as the reset page does: the one email this request sent. */
async function askForResetLink(app: FastifyInstance, email: string): Promise<string> {
  const before = new Set(await resetLinksTo(app, email));
  const asked = await app.inject({ method: "POST", url: "/api/auth/request-password-reset", payload: { email } });
  if (asked.statusCode !== 200) throw new Error(`reset request failed: ${asked.statusCode} ${asked.body}`);
  const sent = (await resetLinksTo(app, email)).filter((link) => !before.has(link));
  if (sent.length !== 1) throw new Error(`expected one new reset link for ${email}, found ${sent.length}`);
  return sent[0]!;
}

const tokenOf = (link: string) => new URL(link).pathname.split("/").pop()!;

const completeReset = (app: FastifyInstance, link: string, newPassword: string) =>
  app.inject({ method: "POST", url: "/api/auth/reset-password", payload: { token: tokenOf(link), newPassword } });

/**
 * Every entrance that sets a password, each as a request with `password` as the new one. Each call
 * starts from a fresh account (or link) where the previous call's success would change the state.
 */
async function entrances(app: FastifyInstance): Promise<Record<string, Entrance>> {
  const owner = await signUp(app);
  await createClinic(app, owner.cookie);
  const staff = await createStaff(app, owner.cookie);
  return {
    "sign-up": (password) =>
      app.inject({ method: "POST", url: "/api/auth/sign-up/email", payload: { name: "Dr. Amina Yusuf", email: uniqueEmail(), password } }),
    "reset-password": async (password) => {
      const { email } = await signUp(app);
      return completeReset(app, await askForResetLink(app, email), password);
    },
    "change-password": async (password) => {
      const { cookie } = await signUp(app);
      return app.inject({
        method: "POST",
        url: "/api/auth/change-password",
        headers: { cookie },
        payload: { currentPassword: PASSWORD, newPassword: password },
      });
    },
    "POST /api/staff": (password) =>
      app.inject({
        method: "POST",
        url: "/api/staff",
        headers: { cookie: owner.cookie },
        payload: { name: "Grace Okafor", username: uniqueUsername(), password, role: "lab" },
      }),
    "POST /api/staff/:userId/password": (password) =>
      app.inject({ method: "POST", url: `/api/staff/${staff.userId}/password`, headers: { cookie: owner.cookie }, payload: { password } }),
  };
}

const accepted = (response: LightMyRequestResponse) => response.statusCode === 200 || response.statusCode === 201;

/** `count` distinct astral code points (emoji): each is two UTF-16 units and one character. */
const emoji = (count: number) => Array.from({ length: count }, (_, at) => String.fromCodePoint(0x1f600 + at)).join("");
/** `count` characters of plain text that is neither listed nor a repetition. */
const prose = (count: number) => "the quick brown fox jumps over the lazy dog, ".repeat(4).slice(0, count);

const common = {
  "password1234": "password1234",
  "123456789012": "123456789012",
  "twelve spaces": " ".repeat(12),
  "a listed password in other case": "PassWORD1234",
  "a listed password in fullwidth letters": "ｐａｓｓｗｏｒｄ１２３４",
  "an entry ranked past the 990,000th, in other case": "VolleyballDasha",
  "one character repeated": "a".repeat(20),
  "a three-character unit repeated": "abc".repeat(5),
  "whitespace only": " \t \u3000 \t  \u00a0 \t ",
};

t.test("common passwords, a few characters repeated and whitespace are refused with PASSWORD_TOO_COMMON at every entrance", async (t) => {
  const { app } = await buildTestApp(t);
  for (const [entrance, send] of Object.entries(await entrances(app))) {
    for (const [what, password] of Object.entries(common)) {
      const response = await send(password);
      t.equal(response.statusCode, 400, `${entrance}: ${what}`);
      t.equal(response.json().code, "PASSWORD_TOO_COMMON", `${entrance}: ${what}`);
      t.equal(response.json().error, errorCodes.PASSWORD_TOO_COMMON.message, `${entrance}: the registry's message, not the password`);
    }
  }
});

t.test("a refused password changes nothing: the account keeps its password, the reset link stays usable", async (t) => {
  const { app } = await buildTestApp(t);
  const { email, cookie } = await signUp(app);
  const change = await app.inject({
    method: "POST",
    url: "/api/auth/change-password",
    headers: { cookie },
    payload: { currentPassword: PASSWORD, newPassword: "password1234" },
  });
  t.equal(change.json().code, "PASSWORD_TOO_COMMON");
  t.equal((await signIn(app, email, "password1234")).statusCode, 401, "the common password was not set");
  t.equal((await signIn(app, email)).statusCode, 200, "the old one still signs in");

  const link = await askForResetLink(app, email);
  t.equal((await completeReset(app, link, "123456789012")).json().code, "PASSWORD_TOO_COMMON");
  t.equal((await completeReset(app, link, "a-password-of-my-own-choosing")).statusCode, 200, "the same link then works");
  t.equal((await signIn(app, email, "a-password-of-my-own-choosing")).statusCode, 200);

  const signUpAttempt = uniqueEmail("refused");
  await app.inject({ method: "POST", url: "/api/auth/sign-up/email", payload: { name: "Refused", email: signUpAttempt, password: " ".repeat(12) } });
  const { rowCount } = await app.pg.query(`SELECT 1 FROM "user" WHERE "email" = $1`, [signUpAttempt]);
  t.equal(rowCount, 0, "no account was made");
});

t.test("length counts code points after NFKC: 11 and 129 refused, 12 and 128 accepted, emoji included, at every entrance", async (t) => {
  const { app } = await buildTestApp(t);
  const cases: [string, string, string | undefined][] = [
    ["11 letters", prose(11), "PASSWORD_TOO_SHORT"],
    ["12 letters", prose(12), undefined],
    ["128 letters", prose(128), undefined],
    ["129 letters", prose(129), "PASSWORD_TOO_LONG"],
    // 22 UTF-16 units: long enough when units were counted.
    ["11 emoji", emoji(11), "PASSWORD_TOO_SHORT"],
    ["12 emoji", emoji(12), undefined],
    // 256 UTF-16 units: too long when units were counted.
    ["128 emoji", emoji(128), undefined],
    ["129 emoji", emoji(129), "PASSWORD_TOO_LONG"],
    ["120 letters and 8 emoji", prose(120) + emoji(8), undefined],
    // Past the input bound (1,024 UTF-16 units): refused before it is even normalised.
    ["513 emoji", emoji(513), "PASSWORD_TOO_LONG"],
    // 12 code points as typed (e + combining accent), 11 once NFKC composes them.
    ["11 after NFKC (e + accent)", "cafe\u0301-au-lai", "PASSWORD_TOO_SHORT"],
    // 11 code points as typed, 12 once NFKC spells the ligature ﬁ as f + i.
    ["12 after NFKC (a ligature)", "\ufb01sh-and-cow", undefined],
  ];
  t.equal([..."cafe\u0301-au-lai"].length, 12, "the decomposed case has 12 code points as typed");
  t.equal([..."\ufb01sh-and-cow"].length, 11, "the ligature case has 11 code points as typed");
  for (const [entrance, send] of Object.entries(await entrances(app))) {
    for (const [what, password, code] of cases) {
      const response = await send(password);
      if (code) {
        t.equal(response.statusCode, 400, `${entrance}: ${what}`);
        t.equal(response.json().code, code, `${entrance}: ${what}`);
      } else {
        t.ok(accepted(response), `${entrance}: ${what} (${response.statusCode} ${response.body.slice(0, 120)})`);
      }
    }
  }
});

t.test("a password of emoji and compatibility characters signs in as typed and in any NFKC-equal spelling", async (t) => {
  const { app } = await buildTestApp(t);
  const password = emoji(120) + "ﬁve-ｏｋ";
  const { email } = await signUp(app, { password });
  t.equal((await signIn(app, email, password)).statusCode, 200);
  t.equal((await signIn(app, email, emoji(120) + "five-ok")).statusCode, 200);
});

t.test("sign-in reads a password of up to 1,024 UTF-16 units (a long emoji one too) and refuses a longer one unhashed", async (t) => {
  const { app } = await buildTestApp(t);
  const { email } = await signUp(app);
  // 400 units: Better Auth refused it as too long when it counted units up to 128.
  t.equal((await signIn(app, email, emoji(200))).statusCode, 401, "a wrong password, checked as one");
  const hashesBefore = app.passwordHasher.completed;
  const tooLong = await signIn(app, email, emoji(513));
  t.equal(tooLong.statusCode, 400);
  t.equal(tooLong.json().code, "PASSWORD_TOO_LONG");
  t.equal(app.passwordHasher.completed, hashesBefore, "nothing was hashed for it");
});

t.test("using the newer of two reset links ends the older one, across replicas", async (t) => {
  const [a, b] = (await buildReplicas(t, 2)).map((replica) => replica.app) as [FastifyInstance, FastifyInstance];
  const { email } = await signUp(a);
  const older = await askForResetLink(a, email);
  const newer = await askForResetLink(b, email);
  t.not(tokenOf(older), tokenOf(newer));

  t.equal((await completeReset(b, newer, "the-password-of-the-newer-link")).statusCode, 200);

  const followed = await a.inject({ method: "GET", url: pathOf(older) });
  t.equal(followed.statusCode, 302);
  t.match(String(followed.headers.location), /error=INVALID_TOKEN/, "the older link's page says it is no longer valid");
  const used = await completeReset(a, older, "the-password-of-the-older-link");
  t.equal(used.statusCode, 400);
  t.equal(used.json().code, "INVALID_TOKEN");
  t.equal((await signIn(a, email, "the-password-of-the-older-link")).statusCode, 401);
  t.equal((await signIn(a, email, "the-password-of-the-newer-link")).statusCode, 200, "the newer link's password stands");
});

t.test("using the older of two reset links ends the newer one as well", async (t) => {
  const { app } = await buildTestApp(t);
  const { email } = await signUp(app);
  const older = await askForResetLink(app, email);
  const newer = await askForResetLink(app, email);
  t.equal((await completeReset(app, older, "the-password-of-the-older-link")).statusCode, 200);
  t.equal((await completeReset(app, newer, "the-password-of-the-newer-link")).json().code, "INVALID_TOKEN");
  t.equal((await signIn(app, email, "the-password-of-the-older-link")).statusCode, 200);
});

t.test("a password change ends an outstanding reset link; another account's link lives on", async (t) => {
  const [a, b] = (await buildReplicas(t, 2)).map((replica) => replica.app) as [FastifyInstance, FastifyInstance];
  const { email, cookie } = await signUp(a);
  const other = await signUp(a);
  const link = await askForResetLink(a, email);
  const otherLink = await askForResetLink(a, other.email);

  const change = await b.inject({
    method: "POST",
    url: "/api/auth/change-password",
    headers: { cookie },
    payload: { currentPassword: PASSWORD, newPassword: "my-freshly-changed-password" },
  });
  t.equal(change.statusCode, 200);

  t.equal((await completeReset(a, link, "whoever-held-the-old-link")).json().code, "INVALID_TOKEN");
  t.equal((await signIn(a, email, "whoever-held-the-old-link")).statusCode, 401);
  t.equal((await signIn(a, email, "my-freshly-changed-password")).statusCode, 200);
  t.equal((await completeReset(b, otherLink, "the-other-owners-new-password")).statusCode, 200, "only this account's links ended");
});

t.test("an admin's new initial password ends the staff account's outstanding reset link", async (t) => {
  const { app } = await buildTestApp(t);
  const owner = await signUp(app);
  await createClinic(app, owner.cookie);
  const email = uniqueEmail("staff");
  const staff = await createStaff(app, owner.cookie, { email });
  const link = await askForResetLink(app, email);

  const set = await app.inject({
    method: "POST",
    url: `/api/staff/${staff.userId}/password`,
    headers: { cookie: owner.cookie },
    payload: { password: "a-new-initial-password" },
  });
  t.equal(set.statusCode, 200);
  t.equal((await completeReset(app, link, "from-the-old-reset-link")).json().code, "INVALID_TOKEN");
  t.equal((await signInByUsername(app, staff.username, "a-new-initial-password")).statusCode, 200);
});
