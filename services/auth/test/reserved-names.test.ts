// What only the service may name: the placeholder domain of staff accounts without an address is
// nobody's to sign up with or send to, and a clinic's slug is lowercase letters, digits and hyphens.
import t from "tap";
import { buildTestApp } from "@temetro/test-support/auth-app";
import { createClinic, PASSWORD, signUp, uniqueUsername } from "@temetro/test-support/auth-requests";

const reservedAddresses = [
  "frontdesk@staff.temetro.invalid",
  "FrontDesk@STAFF.Temetro.Invalid",
  "someone@east.staff.temetro.invalid",
];

t.test("sign-up with an address under the staff placeholder domain is a 400 EMAIL_DOMAIN_RESERVED and creates nothing", async (t) => {
  const { app } = await buildTestApp(t);
  for (const email of reservedAddresses) {
    const response = await app.inject({ method: "POST", url: "/api/auth/sign-up/email", payload: { name: "Eve", email, password: PASSWORD } });
    t.equal(response.statusCode, 400, email);
    t.equal(response.json().code, "EMAIL_DOMAIN_RESERVED", email);
    t.notOk(response.headers["set-cookie"], "no session");
    const stored = await app.pg.query(`SELECT 1 FROM "user" WHERE lower("email") = lower($1)`, [email]);
    t.equal(stored.rowCount, 0, `no account for ${email}`);
  }
  const lookalike = await signUp(app, { email: `eve-${Date.now()}@staff.temetro.example` });
  t.ok(lookalike.userId, "a real domain that merely resembles it is an ordinary address");
});

t.test("no signed-in account can move its address into the placeholder domain (update-user, change-email)", async (t) => {
  const { app } = await buildTestApp(t);
  const eve = await signUp(app);
  for (const [url, payload] of [
    ["/api/auth/update-user", { email: reservedAddresses[0] }],
    ["/api/auth/change-email", { newEmail: reservedAddresses[0] }],
  ] as const) {
    const response = await app.inject({ method: "POST", url, headers: { cookie: eve.cookie }, payload });
    t.equal(response.statusCode, 400, url);
    const stored = await app.pg.query(`SELECT "email" FROM "user" WHERE "id" = $1`, [eve.userId]);
    t.equal(stored.rows[0].email, eve.email, `${url}: the address is unchanged`);
  }
});

t.test("a staff account without an email gets a placeholder that no invitation or new staff account can use", async (t) => {
  const { app } = await buildTestApp(t);
  const owner = await signUp(app);
  const clinic = await createClinic(app, owner.cookie);

  const created = await app.inject({
    method: "POST",
    url: "/api/staff",
    headers: { cookie: owner.cookie },
    payload: { name: "Grace Okafor", username: uniqueUsername(), password: PASSWORD, role: "reception" },
  });
  t.equal(created.statusCode, 201);
  const placeholder = (await app.pg.query(`SELECT "email" FROM "user" WHERE "id" = $1`, [created.json().staff.userId])).rows[0].email;
  t.match(placeholder, /@staff\.temetro\.invalid$/, "the account's stored address is a placeholder");

  const invite = await app.inject({
    method: "POST",
    url: "/api/auth/organization/invite-member",
    headers: { cookie: owner.cookie },
    payload: { email: placeholder, role: "doctor", organizationId: clinic.id },
  });
  t.equal(invite.statusCode, 400, "an invitation to the placeholder (which that staff account could accept) is refused");
  t.equal(invite.json().code, "EMAIL_DOMAIN_RESERVED");
  const invitations = await app.pg.query(`SELECT 1 FROM "invitation" WHERE "organizationId" = $1`, [clinic.id]);
  t.equal(invitations.rowCount, 0, "no invitation stored");

  for (const email of reservedAddresses) {
    const staff = await app.inject({
      method: "POST",
      url: "/api/staff",
      headers: { cookie: owner.cookie },
      payload: { name: "Grace Okafor", username: uniqueUsername(), password: PASSWORD, role: "reception", email },
    });
    t.equal(staff.statusCode, 400, `POST /api/staff with ${email}`);
    t.equal(staff.json().code, "EMAIL_DOMAIN_RESERVED");
  }
});

const badSlugs = ["Sunrise", "sunrise clinic", "sunrise_clinic", "-sunrise", "sunrise-", "ab", "x".repeat(64), "sünrise", "sunrise.clinic", "sun/rise", ""];

t.test("organization/create takes only slugs of lowercase letters, digits and hyphens: 400 INVALID_SLUG otherwise", async (t) => {
  const { app } = await buildTestApp(t);
  const owner = await signUp(app);
  for (const slug of [...badSlugs, 42, null]) {
    const response = await app.inject({
      method: "POST",
      url: "/api/auth/organization/create",
      headers: { cookie: owner.cookie },
      payload: { name: "Sunrise Clinic", slug },
    });
    t.equal(response.statusCode, 400, JSON.stringify(slug));
    t.equal(response.json().code, "INVALID_SLUG", JSON.stringify(slug));
  }
  const clinics = await app.pg.query(`SELECT 1 FROM "member" WHERE "userId" = $1`, [owner.userId]);
  t.equal(clinics.rowCount, 0, "no clinic was created");

  const suffix = Date.now().toString(36);
  for (const slug of [`sunrise-${suffix}`, `123-${suffix}`, `a1-${suffix}`, `${"x".repeat(63 - suffix.length)}${suffix}`]) {
    const response = await app.inject({
      method: "POST",
      url: "/api/auth/organization/create",
      headers: { cookie: owner.cookie },
      payload: { name: "Sunrise Clinic", slug },
    });
    t.equal(response.statusCode, 200, slug);
    t.equal(response.json().slug, slug);
  }
});

t.test("organization/update cannot give a clinic a bad slug; a good one still changes it", async (t) => {
  const { app } = await buildTestApp(t);
  const owner = await signUp(app);
  const clinic = await createClinic(app, owner.cookie);
  const update = (slug: unknown) =>
    app.inject({
      method: "POST",
      url: "/api/auth/organization/update",
      headers: { cookie: owner.cookie },
      payload: { organizationId: clinic.id, data: { slug } },
    });
  for (const slug of badSlugs) {
    const response = await update(slug);
    t.equal(response.statusCode, 400, slug);
    t.equal(response.json().code, "INVALID_SLUG", slug);
  }
  const stored = async () => (await app.pg.query(`SELECT "slug" FROM "organization" WHERE "id" = $1`, [clinic.id])).rows[0].slug;
  t.equal(await stored(), clinic.slug, "the slug did not change");

  const renamed = `renamed-${Date.now().toString(36)}`;
  t.equal((await update(renamed)).statusCode, 200);
  t.equal(await stored(), renamed);
  const nameOnly = await app.inject({
    method: "POST",
    url: "/api/auth/organization/update",
    headers: { cookie: owner.cookie },
    payload: { organizationId: clinic.id, data: { name: "Sunset Clinic" } },
  });
  t.equal(nameOnly.statusCode, 200, "an update without a slug is not judged on one");
});
