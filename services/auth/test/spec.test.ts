// Every request of the public API page (shared/spec/authentication.md), with its own paths and bodies.
import t from "tap";
import { buildTestApp } from "@temetro/test-support/auth-app";
import { cookieOf, createClinic, emailTo, PASSWORD, pathOf, signIn, signUp, uniqueEmail, verifyAddress } from "@temetro/test-support/auth-requests";

t.test("sign up by email sets the session cookie and queues a verification email", async (t) => {
  const { app } = await buildTestApp(t);
  const email = uniqueEmail("amina");
  const response = await app.inject({
    method: "POST",
    url: "/api/auth/sign-up/email",
    headers: { "content-type": "application/json" },
    payload: `{
    "name": "Dr. Amina Yusuf",
    "email": "${email}",
    "password": "a-long-secure-password"
  }`,
  });
  t.equal(response.statusCode, 200);
  t.match(response.json(), { user: { email, name: "Dr. Amina Yusuf", emailVerified: false } });
  t.match(cookieOf(response), /^better-auth\.session_token=/);
  const job = await emailTo(app, email, "verify-email");
  t.match(job.url, /^http:\/\/localhost:4000\/api\/auth\/verify-email\?token=/);
});

t.test("sign in by email sets the session cookie", async (t) => {
  const { app } = await buildTestApp(t);
  const { email } = await signUp(app);
  const response = await app.inject({
    method: "POST",
    url: "/api/auth/sign-in/email",
    headers: { "content-type": "application/json" },
    payload: `{ "email": "${email}", "password": "a-long-secure-password" }`,
  });
  t.equal(response.statusCode, 200);
  t.match(response.json(), { user: { email } });
  t.match(cookieOf(response), /^better-auth\.session_token=/);
});

t.test("sign in by username sets the session cookie", async (t) => {
  const { app } = await buildTestApp(t);
  const username = `frontdesk${Date.now().toString(36)}`;
  await signUp(app, { username });
  const response = await app.inject({
    method: "POST",
    url: "/api/auth/sign-in/username",
    headers: { "content-type": "application/json" },
    payload: `{ "username": "${username}", "password": "a-long-secure-password" }`,
  });
  t.equal(response.statusCode, 200);
  t.match(response.json(), { user: { username } });
  t.match(cookieOf(response), /^better-auth\.session_token=/);
});

t.test("the cookie from sign-in is reused on later requests (get-session)", async (t) => {
  const { app } = await buildTestApp(t);
  const { email } = await signUp(app);
  const cookie = cookieOf(await signIn(app, email));
  const response = await app.inject({ method: "GET", url: "/api/auth/get-session", headers: { cookie } });
  t.equal(response.statusCode, 200);
  t.match(response.json(), { user: { email }, session: { userId: String } });

  const anonymous = await app.inject({ method: "GET", url: "/api/auth/get-session" });
  t.equal(anonymous.statusCode, 200);
  t.equal(anonymous.json(), null, "no session without the cookie");
});

t.test("organization/create makes a clinic whose owner is its creator; organization/list lists it", async (t) => {
  const { app } = await buildTestApp(t);
  const { cookie, userId } = await signUp(app);
  const created = await app.inject({
    method: "POST",
    url: "/api/auth/organization/create",
    headers: { cookie },
    payload: { name: "Sunrise Clinic", slug: `sunrise-${Date.now()}` },
  });
  t.equal(created.statusCode, 200);
  const clinic = created.json();
  t.match(clinic, { name: "Sunrise Clinic", members: [{ userId, role: "owner" }] });

  const list = await app.inject({ method: "GET", url: "/api/auth/organization/list", headers: { cookie } });
  t.equal(list.statusCode, 200);
  t.same(
    list.json().map((c: { id: string }) => c.id),
    [clinic.id],
  );
});

t.test("organization/set-active chooses the session's clinic, and data endpoints answer", async (t) => {
  const { app } = await buildTestApp(t);
  const { cookie, email } = await signUp(app);
  const first = await createClinic(app, cookie, "First Clinic");
  const second = await createClinic(app, cookie, "Second Clinic");

  // A user of two clinics signs in without an active one (see guard tests), then chooses.
  const fresh = cookieOf(await signIn(app, email));
  t.equal((await app.inject({ method: "GET", url: "/api/clinic", headers: { cookie: fresh } })).statusCode, 403);

  const setActive = await app.inject({
    method: "POST",
    url: "/api/auth/organization/set-active",
    headers: { cookie: fresh },
    payload: { organizationId: second.id },
  });
  t.equal(setActive.statusCode, 200);
  const clinic = await app.inject({ method: "GET", url: "/api/clinic", headers: { cookie: fresh } });
  t.equal(clinic.statusCode, 200);
  t.match(clinic.json(), { clinic: { id: second.id, name: "Second Clinic" }, role: "owner" });
  t.not(first.id, second.id);
});

t.test("invite-member sends an invitation whose link leads to a working accept-invitation", async (t) => {
  const { app } = await buildTestApp(t);
  const owner = await signUp(app, { name: "Dr. Owner" });
  const clinic = await createClinic(app, owner.cookie, "Invite Clinic");
  const inviteeEmail = uniqueEmail("nurse");

  const invite = await app.inject({
    method: "POST",
    url: "/api/auth/organization/invite-member",
    headers: { cookie: owner.cookie },
    payload: { email: inviteeEmail, role: "reception", organizationId: clinic.id },
  });
  t.equal(invite.statusCode, 200);

  const job = await emailTo(app, inviteeEmail, "invitation");
  t.match(job, { kind: "invitation", inviterName: "Dr. Owner", clinicName: "Invite Clinic", role: "reception" });
  const link = new URL(job.url);
  t.equal(link.origin, "http://localhost:3000", "the link leads to the frontend");
  const invitationId = link.searchParams.get("invitationId");
  t.ok(invitationId);

  const invitee = await signUp(app, { email: inviteeEmail, name: "Nurse Bola" });
  // Accepting needs the invited address verified: the invitee follows their verification link first.
  await verifyAddress(app, invitee.cookie);
  const accept = await app.inject({
    method: "POST",
    url: "/api/auth/organization/accept-invitation",
    headers: { cookie: invitee.cookie },
    payload: { invitationId },
  });
  t.equal(accept.statusCode, 200);

  const clinicView = await app.inject({ method: "GET", url: "/api/clinic", headers: { cookie: invitee.cookie } });
  t.equal(clinicView.statusCode, 200, "accepting makes the clinic active");
  t.match(clinicView.json(), { clinic: { id: clinic.id }, role: "reception" });
});

t.test("sign-out ends the session on the server, not only the cookie", async (t) => {
  const { app } = await buildTestApp(t);
  const { cookie } = await signUp(app);
  const signOut = await app.inject({ method: "POST", url: "/api/auth/sign-out", headers: { cookie } });
  t.equal(signOut.statusCode, 200);
  t.match(String(signOut.headers["set-cookie"]), /better-auth\.session_token=;.*Max-Age=0/);

  // The old cookie, replayed, no longer works.
  const session = await app.inject({ method: "GET", url: "/api/auth/get-session", headers: { cookie } });
  t.equal(session.json(), null);
});

t.test("forget-password and request-password-reset both send the reset email; reset-password completes it", async (t) => {
  const { app } = await buildTestApp(t);
  for (const path of ["/api/auth/forget-password", "/api/auth/request-password-reset"]) {
    const { email } = await signUp(app);
    const request = await app.inject({ method: "POST", url: path, payload: { email } });
    t.equal(request.statusCode, 200, path);
    t.equal(request.json().status, true);

    const job = await emailTo(app, email, "reset-password");
    // Following the link: a redirect to the frontend's reset form carrying the token.
    const follow = await app.inject({ method: "GET", url: pathOf(job.url) });
    t.equal(follow.statusCode, 302);
    const target = new URL(String(follow.headers.location));
    t.equal(`${target.origin}${target.pathname}`, "http://localhost:3000/reset-password");
    const token = target.searchParams.get("token");
    t.ok(token);

    const newPassword = "another-long-secure-password";
    const reset = await app.inject({ method: "POST", url: "/api/auth/reset-password", payload: { newPassword, token } });
    t.equal(reset.statusCode, 200);
    t.equal((await signIn(app, email, newPassword)).statusCode, 200, "the new password signs in");
    t.equal((await signIn(app, email, PASSWORD)).statusCode, 401, "the old one does not");
    const again = await app.inject({
      method: "POST",
      url: "/api/auth/reset-password",
      payload: { newPassword: "yet-another-long-password", token },
    });
    t.equal(again.statusCode, 400, "a token works once");
  }
});

t.test("verify-email: the emailed link marks the address verified", async (t) => {
  const { app } = await buildTestApp(t);
  const { email, cookie } = await signUp(app);
  const job = await emailTo(app, email, "verify-email");
  // Followed in the browser that signed up (its cookie): that session goes on, verified.
  const follow = await app.inject({ method: "GET", url: pathOf(job.url), headers: { cookie } });
  t.equal(follow.statusCode, 302);
  t.equal(follow.headers.location, "http://localhost:3000/", "then to the frontend");
  const session = await app.inject({ method: "GET", url: "/api/auth/get-session", headers: { cookie } });
  t.equal(session.json().user.emailVerified, true);
});
