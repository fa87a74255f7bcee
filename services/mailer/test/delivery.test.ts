// The emails of the API page, end to end: the auth service queues them, the mailer delivers them to
// a real SMTP server, and the links in what arrives work.
import t from "tap";
import { buildTestApp } from "@temetro/test-support/auth-app";
import { cookieOf, createClinic, PASSWORD, pathOf, signIn, signUp, uniqueEmail } from "@temetro/test-support/auth-requests";
import { waitUntil } from "@temetro/test-support/polling";
import { startTestMailer } from "./fixtures/mailer.js";

/** The one link of an email's text part that starts with `prefix`. */
function linkIn(text: string, prefix: string): string {
  const links = text.match(/https?:\/\/\S+/g) ?? [];
  const link = links.find((candidate) => candidate.startsWith(prefix));
  if (!link) throw new Error(`no ${prefix} link in: ${text}`);
  return link;
}

/**
 * Follows the verification link that arrived for `email` in the account's own browser (its cookie):
 * the address is verified, as inviting and accepting an invitation require.
 */
async function verifyFromMailbox(app: Awaited<ReturnType<typeof buildTestApp>>["app"], link: string, cookie: string) {
  const follow = await app.inject({ method: "GET", url: pathOf(link), headers: { cookie } });
  if (follow.statusCode !== 302) throw new Error(`verification failed: ${follow.statusCode}`);
}

t.test("sign-up: the verification email arrives, and its link marks the address verified", async (t) => {
  const { app, config } = await buildTestApp(t);
  const { sink } = await startTestMailer(t, config);
  const { email, cookie } = await signUp(app, { name: "Dr. Amina <Yusuf>" });

  const [message] = await sink.waitFor(email);
  t.match(message!.subject, /temetro/);
  t.match(message!.from, /no-reply@localhost/);
  // The name's dot is a one-dot leader: no mail client makes a link of a name (names-in-emails.test.ts).
  t.match(message!.text, /Hello Dr\u2024 Amina <Yusuf>,/, "the text part greets by name");
  t.match(message!.html, /Hello Dr\u2024 Amina &lt;Yusuf&gt;,/, "the name is escaped in the HTML part");
  const link = linkIn(message!.text, `${config.betterAuthUrl}/api/auth/verify-email?token=`);
  t.ok(message!.html.includes(link.replaceAll("&", "&amp;")), "the HTML part carries the same link");

  // Followed in the browser that signed up: the account and its password stay (pre-hijacking.test.ts).
  const follow = await app.inject({ method: "GET", url: pathOf(link), headers: { cookie } });
  t.equal(follow.statusCode, 302);
  const session = await signIn(app, email);
  t.equal(session.json().user.emailVerified, true);
});

t.test("forget-password: the reset email's token resets the password once; the old password fails; a changed-password notice follows", async (t) => {
  const { app, config } = await buildTestApp(t);
  const { sink } = await startTestMailer(t, config);
  const { email } = await signUp(app);

  const request = await app.inject({ method: "POST", url: "/api/auth/forget-password", payload: { email } });
  t.equal(request.statusCode, 200);
  const reset = (await sink.waitFor(email, 2)).find((message) => /reset/i.test(message.subject));
  t.ok(reset, "the reset email arrived");
  t.match(reset!.subject, /temetro/);
  const link = linkIn(reset!.text, `${config.betterAuthUrl}/api/auth/reset-password/`);

  const redirect = await app.inject({ method: "GET", url: pathOf(link) });
  t.equal(redirect.statusCode, 302);
  const token = new URL(redirect.headers.location as string).searchParams.get("token");
  t.ok(token);
  const newPassword = "another-long-secure-password";
  const done = await app.inject({ method: "POST", url: "/api/auth/reset-password", payload: { token, newPassword } });
  t.equal(done.statusCode, 200);
  t.equal((await signIn(app, email, newPassword)).statusCode, 200, "the new password signs in");
  t.equal((await signIn(app, email, PASSWORD)).statusCode, 401, "the old one does not");
  const again = await app.inject({ method: "POST", url: "/api/auth/reset-password", payload: { token, newPassword: "a-third-long-password" } });
  t.equal(again.statusCode, 400, "a second use of the token fails");

  const [, , notice] = await sink.waitFor(email, 3);
  t.match(notice!.subject, /Your temetro password was changed/);
  t.match(notice!.text, /was changed on \d{1,2} \w{3} \d{4}, \d\d:\d\d UTC/);
});

t.test("change-password sends the 'your password was changed' email; a refused change sends none", async (t) => {
  const { app, config } = await buildTestApp(t);
  const { sink } = await startTestMailer(t, config);
  const { email, cookie } = await signUp(app);
  await sink.waitFor(email, 1); // the verification email

  const refused = await app.inject({
    method: "POST",
    url: "/api/auth/change-password",
    headers: { cookie },
    payload: { currentPassword: "not-the-password-at-all", newPassword: "another-long-secure-password" },
  });
  t.equal(refused.statusCode, 400);
  const changed = await app.inject({
    method: "POST",
    url: "/api/auth/change-password",
    headers: { cookie },
    payload: { currentPassword: PASSWORD, newPassword: "another-long-secure-password" },
  });
  t.equal(changed.statusCode, 200);
  const messages = await sink.waitFor(email, 2);
  t.same(
    messages.map((message) => message.subject),
    ["Confirm your email address for temetro", "Your temetro password was changed"],
    "one notice, for the change that happened",
  );
});

// Names people choose reach other people's mailboxes: escaped, and never a link a mail client would follow.
const linkLike = /evil\.example|phish\.example|https?:\/\/phish/;

t.test("invite-member: the invitation names inviter, clinic and role (escaped, linking nowhere), and its link leads to a working accept-invitation", async (t) => {
  const { app, config } = await buildTestApp(t);
  const { sink } = await startTestMailer(t, config);
  const owner = await signUp(app, { name: "Dr. Owner of evil.example" });
  const [ownerVerification] = await sink.waitFor(owner.email);
  t.notMatch(ownerVerification!.text, linkLike, "the owner's own greeting links nowhere");
  await verifyFromMailbox(app, linkIn(ownerVerification!.text, `${config.betterAuthUrl}/api/auth/verify-email?token=`), owner.cookie);
  const clinic = await createClinic(app, owner.cookie, "Sunrise & <Co> Clinic https://phish.example/login");
  const inviteeEmail = uniqueEmail("nurse");
  const invite = await app.inject({
    method: "POST",
    url: "/api/auth/organization/invite-member",
    headers: { cookie: owner.cookie },
    payload: { email: inviteeEmail, role: "reception", organizationId: clinic.id },
  });
  t.equal(invite.statusCode, 200);

  const [invitation] = await sink.waitFor(inviteeEmail);
  t.equal(invitation!.subject, "Dr\u2024 Owner of evil\u2024example invited you to Sunrise & <Co> Clinic https\u2236//phish\u2024example/login on temetro");
  t.match(invitation!.text, /as reception/);
  t.match(invitation!.html, /Sunrise &amp; &lt;Co&gt; Clinic https\u2236\/\/phish\u2024example\/login/);
  for (const part of [invitation!.subject, invitation!.text, invitation!.html]) t.notMatch(part, linkLike, "no name becomes a link");
  const link = linkIn(invitation!.text, `${config.frontendUrl}/accept-invitation?invitationId=`);
  const invitationId = new URL(link).searchParams.get("invitationId");

  const invitee = await signUp(app, { email: inviteeEmail, name: "Nurse Joy" });
  // Accepting needs the invited address verified: the invitee follows the link of the email that
  // arrived, in their own browser.
  const verification = (await sink.waitFor(inviteeEmail, 2)).find((message) => message.text.includes("/verify-email?token="));
  await verifyFromMailbox(app, linkIn(verification!.text, `${config.betterAuthUrl}/api/auth/verify-email?token=`), invitee.cookie);
  const accept = await app.inject({
    method: "POST",
    url: "/api/auth/organization/accept-invitation",
    headers: { cookie: invitee.cookie },
    payload: { invitationId },
  });
  t.equal(accept.statusCode, 200);
  const view = await app.inject({ method: "GET", url: "/api/clinic", headers: { cookie: cookieOf(accept) || invitee.cookie } });
  t.equal(view.statusCode, 200);
  t.match(view.json(), { clinic: { id: clinic.id }, role: "reception" });
});

t.test("without SMTP the mailer prints each email (recipient, subject, text with its link) to its log", async (t) => {
  const { app, config } = await buildTestApp(t);
  const { mailer, logText } = await startTestMailer(t, config, { smtp: "none" });
  const { email } = await signUp(app);
  await waitUntil(async () => (await mailer.metrics()).sent === 1, "the email to be sent", 30_000);
  const printed = logText()
    .split("\n")
    .filter((line) => line.includes("email printed, not sent"))
    .map((line) => JSON.parse(line));
  t.equal(printed.length, 1);
  t.equal(printed[0].to, email);
  t.match(printed[0].subject, /temetro/);
  // The whole email is the message, as a person reads it: the link alone on its line.
  const lines = (printed[0].msg as string).split("\n");
  t.ok(lines.includes(`To: ${email}`));
  t.ok(lines.some((line) => line.startsWith(`${config.betterAuthUrl}/api/auth/verify-email?token=`) && !line.includes(" ")), "the link on a line of its own");
  t.equal(mailer.sender.kind, "log");
});
