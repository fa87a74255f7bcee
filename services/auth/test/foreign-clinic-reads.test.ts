// GET changes nothing: a read naming a clinic the caller does not belong to answers 403 and leaves
// the session exactly as it was, on every replica (a cross-site link cannot clear the active clinic).
import type { FastifyInstance } from "fastify";
import t from "tap";
import { buildReplicas } from "@temetro/test-support/auth-app";
import { createClinic, signUp } from "@temetro/test-support/auth-requests";

const activeClinicOf = async (app: FastifyInstance, cookie: string) =>
  (await app.inject({ method: "GET", url: "/api/auth/get-session", headers: { cookie } })).json().session.activeOrganizationId as string | null;

t.test("reading a foreign clinic is refused and leaves the active clinic on every replica", async (t) => {
  const [one, two] = (await buildReplicas(t, 2)).map((replica) => replica.app) as [FastifyInstance, FastifyInstance];
  const doctor = await signUp(one);
  const own = await createClinic(one, doctor.cookie, "Own Clinic");
  const stranger = await signUp(one);
  const foreign = await createClinic(one, stranger.cookie, "Foreign Clinic");
  t.equal(await activeClinicOf(two, doctor.cookie), own.id, "replica two knows the active clinic");

  const reads = [
    `/api/auth/organization/get-full-organization?organizationId=${foreign.id}`,
    `/api/auth/organization/get-full-organization?organizationSlug=${foreign.slug}`,
    `/api/auth/organization/get-organization?organizationId=${foreign.id}`,
    `/api/auth/organization/list-members?organizationId=${foreign.id}`,
    `/api/auth/organization/list-members?organizationSlug=${foreign.slug}`,
    `/api/auth/organization/list-invitations?organizationId=${foreign.id}`,
    `/api/auth/organization/get-active-member-role?organizationId=${foreign.id}`,
  ];
  for (const url of reads) {
    const response = await one.inject({ method: "GET", url, headers: { cookie: doctor.cookie } });
    t.equal(response.statusCode, 403, url);
    t.equal(response.json().code, "NOT_A_CLINIC_MEMBER", url);
    t.notOk(response.headers["set-cookie"], `${url}: no cookie rewritten`);
  }
  const setActive = await one.inject({ method: "POST", url: "/api/auth/organization/set-active", headers: { cookie: doctor.cookie }, payload: { organizationId: foreign.id } });
  t.equal(setActive.statusCode, 403, "set-active to a foreign clinic");
  t.equal(setActive.json().code, "NOT_A_CLINIC_MEMBER");

  for (const [name, app] of [["one", one], ["two", two]] as const) {
    t.equal(await activeClinicOf(app, doctor.cookie), own.id, `replica ${name}: the active clinic is unchanged`);
    const clinic = await app.inject({ method: "GET", url: "/api/clinic", headers: { cookie: doctor.cookie } });
    t.equal(clinic.statusCode, 200, `replica ${name}: the data endpoints still answer`);
    t.equal(clinic.json().clinic.id, own.id);
  }
  const { rows } = await one.pg.query(`SELECT "activeOrganizationId" FROM "session" WHERE "userId" = $1`, [doctor.userId]);
  t.same(rows, [{ activeOrganizationId: own.id }], "the stored session is as it was");
});

t.test("an unknown clinic id or slug gets the same 403 as a foreign one", async (t) => {
  const [app] = (await buildReplicas(t, 1)).map((replica) => replica.app) as [FastifyInstance];
  const doctor = await signUp(app);
  const own = await createClinic(app, doctor.cookie);
  for (const query of ["organizationId=no-such-clinic", "organizationSlug=no-such-clinic"]) {
    const response = await app.inject({ method: "GET", url: `/api/auth/organization/get-full-organization?${query}`, headers: { cookie: doctor.cookie } });
    t.equal(response.statusCode, 403, query);
    t.equal(response.json().code, "NOT_A_CLINIC_MEMBER", query);
  }
  t.equal(await activeClinicOf(app, doctor.cookie), own.id);
});

t.test("reading one's own clinic by id, slug or the active clinic still answers", async (t) => {
  const [app] = (await buildReplicas(t, 1)).map((replica) => replica.app) as [FastifyInstance];
  const doctor = await signUp(app);
  const own = await createClinic(app, doctor.cookie);
  const reads = [
    "/api/auth/organization/get-full-organization",
    `/api/auth/organization/get-full-organization?organizationId=${own.id}`,
    `/api/auth/organization/get-full-organization?organizationSlug=${own.slug}`,
    `/api/auth/organization/get-organization?organizationId=${own.id}`,
    "/api/auth/organization/list-members",
    `/api/auth/organization/list-invitations?organizationId=${own.id}`,
    "/api/auth/organization/get-active-member-role",
  ];
  for (const url of reads) {
    t.equal((await app.inject({ method: "GET", url, headers: { cookie: doctor.cookie } })).statusCode, 200, url);
  }
  const second = await createClinic(app, doctor.cookie, "Second Clinic");
  const setActive = await app.inject({ method: "POST", url: "/api/auth/organization/set-active", headers: { cookie: doctor.cookie }, payload: { organizationId: own.id } });
  t.equal(setActive.statusCode, 200, "set-active to one's own clinic");
  t.equal(await activeClinicOf(app, doctor.cookie), own.id);
  t.not(second.id, own.id);
});
