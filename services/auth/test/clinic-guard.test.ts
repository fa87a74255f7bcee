// The /api/* guard: 401 without a session, 403 without an active clinic or membership or
// permission, 200 with them; and the clinic chosen at sign-in.
import t from "tap";
import clinicGuard from "../src/clinics/guard.js";
import { buildTestApp } from "@temetro/test-support/auth-app";
import { addMember, cookieOf, createClinic, signIn, signUp } from "@temetro/test-support/auth-requests";

t.test("GET /api/clinic without a session answers 401 with a JSON error", async (t) => {
  const { app } = await buildTestApp(t);
  for (const cookie of [undefined, "better-auth.session_token=forged.value"]) {
    const response = await app.inject({ method: "GET", url: "/api/clinic", headers: cookie ? { cookie } : {} });
    t.equal(response.statusCode, 401);
    t.same(response.json(), { error: "Sign in first: no valid session", code: "UNAUTHENTICATED", message: "Sign in first: no valid session" });
  }
});

t.test("GET /api/clinic answers 403 NO_ACTIVE_CLINIC until the session has an active clinic", async (t) => {
  const { app } = await buildTestApp(t);
  const { cookie } = await signUp(app);
  const response = await app.inject({ method: "GET", url: "/api/clinic", headers: { cookie } });
  t.equal(response.statusCode, 403);
  t.equal(response.json().code, "NO_ACTIVE_CLINIC");
});

t.test("GET /api/clinic gives the active clinic, the caller's role and its permissions", async (t) => {
  const { app } = await buildTestApp(t);
  const owner = await signUp(app);
  const clinic = await createClinic(app, owner.cookie, "Harbour Clinic");
  const lab = await addMember(app, owner.cookie, clinic.id, "lab");

  const view = await app.inject({ method: "GET", url: "/api/clinic", headers: { cookie: lab.cookie } });
  t.equal(view.statusCode, 200);
  t.same(view.json(), {
    clinic: { id: clinic.id, name: "Harbour Clinic", slug: clinic.slug },
    role: "lab",
    permissions: {
      patient: ["read"],
      appointment: ["read"],
      task: ["read", "write"],
      lab: ["read", "write"],
      ac: ["read"],
    },
  });
});

t.test("a member removed from the active clinic is signed out of it on their next request", async (t) => {
  const { app } = await buildTestApp(t);
  const owner = await signUp(app);
  const clinic = await createClinic(app, owner.cookie);
  const doctor = await addMember(app, owner.cookie, clinic.id, "doctor");
  t.equal((await app.inject({ method: "GET", url: "/api/clinic", headers: { cookie: doctor.cookie } })).statusCode, 200);

  const removal = await app.inject({
    method: "POST",
    url: "/api/auth/organization/remove-member",
    headers: { cookie: owner.cookie },
    payload: { memberIdOrEmail: doctor.email, organizationId: clinic.id },
  });
  t.equal(removal.statusCode, 200);

  // The sessions that acted in the clinic end with the membership.
  const after = await app.inject({ method: "GET", url: "/api/clinic", headers: { cookie: doctor.cookie } });
  t.equal(after.statusCode, 401);
  t.equal(after.json().code, "UNAUTHENTICATED");
});

t.test("a session whose membership is gone by any path gets 403 NOT_A_CLINIC_MEMBER", async (t) => {
  const { app } = await buildTestApp(t);
  const owner = await signUp(app);
  const clinic = await createClinic(app, owner.cookie);
  const doctor = await addMember(app, owner.cookie, clinic.id, "doctor");
  // Membership is read on every request: no cached role or membership survives its row.
  await app.pg.query(`DELETE FROM "member" WHERE "userId" = $1 AND "organizationId" = $2`, [doctor.userId, clinic.id]);
  const after = await app.inject({ method: "GET", url: "/api/clinic", headers: { cookie: doctor.cookie } });
  t.equal(after.statusCode, 403);
  t.equal(after.json().code, "NOT_A_CLINIC_MEMBER");
});

t.test("routes declare the permission they need; a role without it gets 403 FORBIDDEN", async (t) => {
  // A data route as later issues will add them, declared with the guard's one mechanism.
  const { app } = await buildTestApp(t, {
    extend: async (app) => {
      await app.register(
        async (api) => {
          await api.register(clinicGuard);
          api.get("/prescriptions", { config: { permission: { prescription: ["read"] } } }, async () => ({ ok: true }));
          api.get("/patients", { config: { permission: { patient: ["read"] } } }, async () => ({ ok: true }));
        },
        { prefix: "/api/example" },
      );
    },
  });

  const owner = await signUp(app);
  const clinic = await createClinic(app, owner.cookie);
  const reception = await addMember(app, owner.cookie, clinic.id, "reception");

  const denied = await app.inject({ method: "GET", url: "/api/example/prescriptions", headers: { cookie: reception.cookie } });
  t.equal(denied.statusCode, 403);
  t.same(denied.json(), { error: "Your role in this clinic does not allow this", code: "FORBIDDEN", message: "Your role in this clinic does not allow this" });

  const allowed = await app.inject({ method: "GET", url: "/api/example/patients", headers: { cookie: reception.cookie } });
  t.equal(allowed.statusCode, 200);
  t.same(allowed.json(), { ok: true });

  const ownerAllowed = await app.inject({ method: "GET", url: "/api/example/prescriptions", headers: { cookie: owner.cookie } });
  t.equal(ownerAllowed.statusCode, 200);

  const anonymous = await app.inject({ method: "GET", url: "/api/example/patients" });
  t.equal(anonymous.statusCode, 401);
});

t.test("signing in as a member of exactly one clinic makes it the active clinic", async (t) => {
  const { app } = await buildTestApp(t);
  const owner = await signUp(app);
  const clinic = await createClinic(app, owner.cookie);
  const cookie = cookieOf(await signIn(app, owner.email));
  const view = await app.inject({ method: "GET", url: "/api/clinic", headers: { cookie } });
  t.equal(view.statusCode, 200);
  t.equal(view.json().clinic.id, clinic.id);
});

t.test("signing in as a member of several clinics chooses none until set-active", async (t) => {
  const { app } = await buildTestApp(t);
  const owner = await signUp(app);
  await createClinic(app, owner.cookie, "One");
  await createClinic(app, owner.cookie, "Two");
  const cookie = cookieOf(await signIn(app, owner.email));
  const session = await app.inject({ method: "GET", url: "/api/auth/get-session", headers: { cookie } });
  t.equal(session.json().session.activeOrganizationId, null);
  const view = await app.inject({ method: "GET", url: "/api/clinic", headers: { cookie } });
  t.equal(view.statusCode, 403);
  t.equal(view.json().code, "NO_ACTIVE_CLINIC");
});
