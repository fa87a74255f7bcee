// Every kind of email: a subject naming temetro, a text and an HTML part, user strings escaped.
import t from "tap";
import { tokenLifetimes, type EmailJob } from "@temetro/shared";
import { renderEmail } from "../src/templates/index.js";

const links = { frontendUrl: "https://app.clinic.example" };
const hostile = `Eve <script>alert("x")</script> & 'co'`;

const jobs: EmailJob[] = [
  { kind: "verify-email", to: "a@example.com", name: hostile, url: "https://auth.clinic.example/api/auth/verify-email?token=t1&callbackURL=x" },
  { kind: "reset-password", to: "a@example.com", name: hostile, url: "https://auth.clinic.example/api/auth/reset-password/t2" },
  {
    kind: "invitation",
    to: "a@example.com",
    name: "a@example.com",
    inviterName: hostile,
    clinicName: hostile,
    role: "doctor",
    url: "https://app.clinic.example/accept-invitation?invitationId=i1",
  },
  { kind: "password-changed", to: "a@example.com", name: hostile, changedAt: "2026-11-26T14:07:00.000Z" },
  { kind: "welcome", to: "a@example.com", name: hostile, username: "eve.reception", clinicName: hostile, url: "https://app.clinic.example/sign-in" },
  { kind: "account-locked", to: "a@example.com", name: hostile, lockedUntil: "2026-11-26T14:22:00.000Z", url: "https://app.clinic.example/forgot-password" },
];

for (const job of jobs) {
  t.test(`${job.kind}: subject names temetro, both parts carry the link, user strings are escaped in HTML`, async (t) => {
    const email = renderEmail(job, links);
    t.match(email.subject, /temetro/);
    t.notMatch(email.subject, /[\r\n]/);
    const link = "url" in job ? new URL(job.url).toString() : `${links.frontendUrl}/`;
    t.ok(email.text.includes(link), "the text part has the link");
    t.ok(email.html.includes(link.replaceAll("&", "&amp;")), "the HTML part has the link");
    t.notMatch(email.html, /<script>/, "no user string becomes markup");
    t.match(email.html, /Eve &lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt; &amp; &#39;co&#39;/);
    t.match(email.text, /Eve <script>alert\("x"\)<\/script> & 'co'/, "the text part shows the string as typed");
  });
}

t.test("times are shown in UTC as people read them", async (t) => {
  const changed = renderEmail(jobs[3]!, links);
  t.match(changed.text, /26 Nov 2026, 14:07 UTC/);
  const locked = renderEmail(jobs[5]!, links);
  t.match(locked.text, /until 26 Nov 2026, 14:22 UTC/);
});

t.test("a job no email can be made of is refused: a javascript: link, a bad time, an unknown kind", async (t) => {
  t.throws(() => renderEmail({ ...(jobs[0] as Extract<EmailJob, { kind: "verify-email" }>), url: "javascript:alert(1)" }, links), /javascript:/);
  t.throws(() => renderEmail({ ...(jobs[3] as Extract<EmailJob, { kind: "password-changed" }>), changedAt: "yesterday" }, links), /not a time/);
  t.throws(() => renderEmail({ kind: "newsletter", to: "a@example.com", name: "A" } as unknown as EmailJob, links), /unknown email kind/);
});

t.test("line breaks in a name cannot add lines to a subject", async (t) => {
  const email = renderEmail({ ...(jobs[2] as Extract<EmailJob, { kind: "invitation" }>), inviterName: "Eve\r\nBcc: x@evil.example" }, links);
  t.equal(email.subject, `Eve Bcc: x@evil\u2024example invited you to ${hostile} on temetro`);
});

/** The lifetime an email promises, read back as a person reads it: "valid for 24 hours" is 86400 s. */
function statedLifetimeSeconds(text: string): number[] {
  const unitSeconds: Record<string, number> = { minute: 60, hour: 3600, day: 24 * 3600 };
  return [...text.matchAll(/valid for (\d+) (minute|hour|day)s?\b/g)].map(([, count, unit]) => Number(count) * unitSeconds[unit!]!);
}

const lifetimeOf: Partial<Record<EmailJob["kind"], number>> = {
  "verify-email": tokenLifetimes.verifyEmailSeconds,
  "reset-password": tokenLifetimes.resetPasswordSeconds,
  invitation: tokenLifetimes.invitationSeconds,
};

for (const job of jobs.filter((job) => lifetimeOf[job.kind] !== undefined)) {
  t.test(`${job.kind}: both parts state the lifetime the service gives its link, no other`, async (t) => {
    const email = renderEmail(job, links);
    t.same(statedLifetimeSeconds(email.text), [lifetimeOf[job.kind]], "the text part");
    t.same(statedLifetimeSeconds(email.html), [lifetimeOf[job.kind]], "the HTML part");
  });
}
