// Names people choose reach other people's mailboxes (an invitation names inviter and clinic): they
// arrive escaped, and no mail client can make a link of them, in the text part or the HTML one.
import t from "tap";
import { buildTestApp, createClinic, pathOf, signUp, uniqueEmail } from "../../auth/test/fixtures/app.js";
import { startTestMailer } from "./fixtures/mailer.js";

const linkLike = /evil\.example|phish\.example|https?:\/\/phish/;

t.test("an invitation from 'Visit evil.example' for the clinic 'https://phish.example/login' links to neither", async (t) => {
  const { app, config } = await buildTestApp(t);
  const { sink } = await startTestMailer(t, config);
  const owner = await signUp(app, { name: "<b>Visit</b> evil.example" });

  const [verification] = await sink.waitFor(owner.email);
  t.notMatch(verification!.text, linkLike, "not even in the owner's own verification email");
  t.notMatch(verification!.html, linkLike);
  const link = verification!.text.match(/https?:\/\/\S+verify-email\?token=\S+/)![0];
  await app.inject({ method: "GET", url: pathOf(link), headers: { cookie: owner.cookie } });

  const clinic = await createClinic(app, owner.cookie, "https://phish.example/login");
  const inviteeEmail = uniqueEmail("nurse");
  const invite = await app.inject({
    method: "POST",
    url: "/api/auth/organization/invite-member",
    headers: { cookie: owner.cookie },
    payload: { email: inviteeEmail, role: "reception", organizationId: clinic.id },
  });
  t.equal(invite.statusCode, 200);

  const [invitation] = await sink.waitFor(inviteeEmail);
  for (const part of [invitation!.subject, invitation!.text, invitation!.html]) t.notMatch(part, linkLike);
  t.match(invitation!.text, /<b>Visit<\/b> evil\u2024example invited you to join https\u2236\/\/phish\u2024example\/login/, "the names read as typed");
  t.match(invitation!.html, /&lt;b&gt;Visit&lt;\/b&gt; evil\u2024example/, "and are escaped in HTML");
  t.notMatch(invitation!.html, /<b>Visit/);
  t.match(invitation!.text, new RegExp(`${config.frontendUrl}/accept-invitation\\?invitationId=`), "the real link is still there");
});
