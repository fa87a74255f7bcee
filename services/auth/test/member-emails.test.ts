// Who sees what: members' email addresses are for the roles that manage staff (owner, admin), as on
// GET /api/staff; other roles see names and roles, on every route that lists members.
import type { FastifyInstance } from "fastify";
import t from "tap";
import { buildTestApp } from "@temetro/test-support/auth-app";
import { addMember, createClinic, signUp } from "@temetro/test-support/auth-requests";

async function clinicWithStaff(app: FastifyInstance) {
  const owner = await signUp(app);
  const clinic = await createClinic(app, owner.cookie);
  const admin = await addMember(app, owner.cookie, clinic.id, "admin");
  const doctor = await addMember(app, owner.cookie, clinic.id, "doctor");
  return { owner, clinic, admin, doctor };
}

type Listed = { role: string; user: Record<string, unknown> };

async function listedMembers(app: FastifyInstance, cookie: string): Promise<Record<string, Listed[]>> {
  const get = async (url: string) => {
    const response = await app.inject({ method: "GET", url, headers: { cookie } });
    if (response.statusCode !== 200) throw new Error(`${url}: ${response.statusCode} ${response.body}`);
    return response.json();
  };
  return {
    "list-members": (await get("/api/auth/organization/list-members")).members,
    "get-full-organization": (await get("/api/auth/organization/get-full-organization")).members,
  };
}

t.test("a doctor sees the other members' names and roles, never their addresses", async (t) => {
  const { app } = await buildTestApp(t);
  const { owner, admin, doctor } = await clinicWithStaff(app);
  for (const [route, members] of Object.entries(await listedMembers(app, doctor.cookie))) {
    t.equal(members.length, 3, route);
    for (const member of members) {
      t.notOk("email" in member.user, `${route}: no email for ${member.role}`);
      t.type(member.user.name, "string", `${route}: the name of ${member.role}`);
    }
    t.notMatch(JSON.stringify(members), owner.email, route);
    t.notMatch(JSON.stringify(members), admin.email, route);
  }
  const providers = await app.inject({ method: "GET", url: "/api/staff/providers", headers: { cookie: doctor.cookie } });
  t.equal(providers.statusCode, 200);
  t.notMatch(providers.body, /@/, "/api/staff/providers carries no address");
  t.equal((await app.inject({ method: "GET", url: "/api/staff", headers: { cookie: doctor.cookie } })).statusCode, 403, "nor /api/staff");
});

t.test("an admin sees the members' addresses, as on GET /api/staff", async (t) => {
  const { app } = await buildTestApp(t);
  const { owner, admin, doctor } = await clinicWithStaff(app);
  for (const [route, members] of Object.entries(await listedMembers(app, admin.cookie))) {
    t.same(members.map((member) => member.user.email).sort(), [owner.email, admin.email, doctor.email].sort(), route);
  }
  const staff = await app.inject({ method: "GET", url: "/api/staff", headers: { cookie: admin.cookie } });
  t.same(staff.json().staff.map((member: { email: string }) => member.email).sort(), [owner.email, admin.email, doctor.email].sort());
});

t.test("a member still sees their own address where Better Auth shows only them", async (t) => {
  const { app } = await buildTestApp(t);
  const { doctor } = await clinicWithStaff(app);
  const active = await app.inject({ method: "GET", url: "/api/auth/organization/get-active-member", headers: { cookie: doctor.cookie } });
  t.equal(active.statusCode, 200);
  t.equal(active.json().user.email, doctor.email);
});
