// What an attacker sends is no error of the service's: a foreign Origin, a callback or redirect URL
// outside the trusted origins are logged as warnings at most; and no log line carries a reset token,
// a reset link, an invitation id, a session token or a password, whichever flow wrote it.
import t from "tap";
import { buildTestApp, type CapturedLogs } from "@temetro/test-support/auth-app";
import { cookieOf, createClinic, emailTo, PASSWORD, pathOf, signUp, uniqueEmail } from "@temetro/test-support/auth-requests";

const ERROR_LEVEL = 50;
const foreign = "https://evil.example";

function errorLines(logs: CapturedLogs) {
  return logs.lines.filter((line) => (line.level as number) >= ERROR_LEVEL);
}

t.test("a foreign Origin and bad callback and redirect URLs are refused and logged below error level", async (t) => {
  const { app, logs } = await buildTestApp(t);
  const owner = await signUp(app);
  const secretInUrl = "s3cr3t-token-in-a-callback-0123456789";
  const longUrl = `${foreign}/${"a".repeat(5000)}`;

  const attempts: [string, string, Record<string, string>, object | undefined][] = [
    ["foreign Origin on a cookie-carrying POST", "/api/auth/update-user", { origin: foreign, cookie: owner.cookie }, { name: "Eve" }],
    ["foreign Origin on sign-in", "/api/auth/sign-in/email", { origin: foreign, cookie: owner.cookie }, { email: owner.email, password: PASSWORD }],
    ["a long Origin that is no URL", "/api/auth/update-user", { origin: "b".repeat(5000), cookie: owner.cookie }, { name: "Eve" }],
    ["bad callbackURL on sign-up", "/api/auth/sign-up/email", {}, { name: "Eve", email: uniqueEmail(), password: PASSWORD, callbackURL: `${foreign}/cb?token=${secretInUrl}` }],
    ["bad callbackURL on sign-in", "/api/auth/sign-in/email", {}, { email: owner.email, password: PASSWORD, callbackURL: longUrl }],
    ["bad redirectTo on a reset request", "/api/auth/request-password-reset", {}, { email: owner.email, redirectTo: `${foreign}/r?invitationId=${secretInUrl}` }],
    ["bad redirectTo on forget-password", "/api/auth/forget-password", {}, { email: owner.email, redirectTo: foreign }],
  ];
  for (const [what, url, headers, payload] of attempts) {
    const response = await app.inject({ method: "POST", url, headers, payload });
    t.equal(response.statusCode, 403, what);
  }
  const verify = await app.inject({ method: "GET", url: `/api/auth/verify-email?token=bogus&callbackURL=${encodeURIComponent(foreign)}` });
  t.ok(verify.statusCode >= 300 && verify.statusCode < 500, "a verification link with a foreign callback is refused or sent home");

  t.same(errorLines(logs), [], "no error-level line");
  const refusals = logs.lines.filter((line) => String(line.msg).startsWith("Invalid "));
  t.ok(refusals.length >= attempts.length, "each refusal is still in the log, for whoever investigates");
  t.ok(refusals.every((line) => line.level === 40), "as a warning");
  const text = logs.text();
  t.notMatch(text, secretInUrl, "a secret in a refused URL's query is not logged");
  t.notMatch(text, "a".repeat(1000), "a long URL is cut short");
  t.notMatch(text, "b".repeat(1000), "and so is a long Origin that is not even a URL");
});

t.test("a reset and an invitation, followed, refused and misused, leave no token, link or invitation id in the log", async (t) => {
  const { app, logs } = await buildTestApp(t);
  const owner = await signUp(app);
  const clinic = await createClinic(app, owner.cookie);

  // Reset: request, follow the emailed link (also with a foreign callback), complete, reuse.
  t.equal((await app.inject({ method: "POST", url: "/api/auth/forget-password", payload: { email: owner.email } })).statusCode, 200);
  const link = (await emailTo(app, owner.email, "reset-password")).url;
  const token = new URL(link).pathname.split("/").pop()!;
  t.equal((await app.inject({ method: "GET", url: pathOf(link) })).statusCode, 302);
  await app.inject({ method: "GET", url: `/api/auth/reset-password/${token}?callbackURL=${encodeURIComponent(foreign)}` });
  const newPassword = "a-brand-new-long-password";
  t.equal((await app.inject({ method: "POST", url: "/api/auth/reset-password", payload: { token, newPassword } })).statusCode, 200);
  t.equal((await app.inject({ method: "POST", url: "/api/auth/reset-password", payload: { token, newPassword } })).statusCode, 400, "a used token");
  const signedIn = await app.inject({ method: "POST", url: "/api/auth/sign-in/email", payload: { email: owner.email, password: newPassword } });
  const ownerCookie = cookieOf(signedIn);
  const sessionToken = decodeURIComponent(ownerCookie.split("=")[1]!).split(".")[0]!;

  // Invitation: sent, read, accepted and rejected by the wrong account, resent.
  const invitee = uniqueEmail("invitee");
  const invited = await app.inject({
    method: "POST",
    url: "/api/auth/organization/invite-member",
    headers: { cookie: ownerCookie },
    payload: { email: invitee, role: "doctor", organizationId: clinic.id },
  });
  t.equal(invited.statusCode, 200);
  const invitationId = invited.json().id as string;
  const stranger = await signUp(app);
  for (const [method, url, payload] of [
    ["GET", `/api/auth/organization/get-invitation?id=${invitationId}`, undefined],
    ["POST", "/api/auth/organization/accept-invitation", { invitationId }],
    ["POST", "/api/auth/organization/reject-invitation", { invitationId }],
    ["POST", "/api/auth/organization/accept-invitation", { invitationId: `${invitationId}\u0000` }],
  ] as const) {
    const response = await app.inject({ method, url, headers: { cookie: stranger.cookie }, ...(payload ? { payload } : {}) });
    t.ok(response.statusCode >= 400 && response.statusCode < 500, `${method} ${url}: refused`);
  }
  await app.inject({ method: "GET", url: `/accept-invitation/${invitationId}` });
  await app.inject({
    method: "POST",
    url: "/api/auth/organization/invite-member",
    headers: { cookie: ownerCookie },
    payload: { email: invitee, role: "doctor", organizationId: clinic.id, resend: true },
  });

  t.same(errorLines(logs), [], "no error-level line");
  const text = logs.text();
  for (const [what, secret] of [
    ["reset token", token],
    ["reset link", link],
    ["invitation id", invitationId],
    ["session token", sessionToken],
    ["new password", newPassword],
    ["password", PASSWORD],
  ] as [string, string][]) {
    t.notMatch(text, secret, `no ${what}`);
    t.notMatch(text, secret.slice(0, 16), `not even the start of the ${what}`);
  }
  t.ok(logs.lines.some((line) => String((line.req as { url?: string } | undefined)?.url).includes("get-invitation?id=[redacted]")), "the request is logged, its id redacted");
});
