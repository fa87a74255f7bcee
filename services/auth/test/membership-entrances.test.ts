// A change to a clinic's members is refused alike whichever entrance it comes through: Better
// Auth's organization routes or the /api routes. Same rule, same status, same code.
import type { FastifyInstance } from "fastify";
import t from "tap";
import { buildTestApp } from "@temetro/test-support/auth-app";
import { addMember, createClinic, PASSWORD, signUp, uniqueEmail, uniqueUsername } from "@temetro/test-support/auth-requests";

type Person = { userId: string; cookie: string; email: string };
type Change = { kind: "role"; role: string } | { kind: "remove" } | { kind: "new member"; role: string };

interface Rule {
  rule: string;
  by: "owner" | "admin" | "doctor";
  target: "owner" | "doctor" | "outsider";
  change: Change;
  status: number;
  code: string;
}

const rules: Rule[] = [
  { rule: "an admin changes the owner's role", by: "admin", target: "owner", change: { kind: "role", role: "doctor" }, status: 409, code: "OWNER_ROLE_PROTECTED" },
  { rule: "the owner changes their own role", by: "owner", target: "owner", change: { kind: "role", role: "admin" }, status: 409, code: "OWNER_ROLE_PROTECTED" },
  { rule: "an admin removes the owner", by: "admin", target: "owner", change: { kind: "remove" }, status: 409, code: "OWNER_ROLE_PROTECTED" },
  { rule: "the owner removes themselves", by: "owner", target: "owner", change: { kind: "remove" }, status: 409, code: "OWNER_ROLE_PROTECTED" },
  { rule: "a member is made owner", by: "owner", target: "doctor", change: { kind: "role", role: "owner" }, status: 400, code: "ROLE_NOT_ASSIGNABLE" },
  { rule: "a member gets an unknown role", by: "owner", target: "doctor", change: { kind: "role", role: "janitor" }, status: 400, code: "ROLE_NOT_ASSIGNABLE" },
  { rule: "a new member is made owner", by: "admin", target: "doctor", change: { kind: "new member", role: "owner" }, status: 400, code: "ROLE_NOT_ASSIGNABLE" },
  { rule: "a new member gets an unknown role", by: "admin", target: "doctor", change: { kind: "new member", role: "janitor" }, status: 400, code: "ROLE_NOT_ASSIGNABLE" },
  { rule: "a role change for someone outside the clinic", by: "admin", target: "outsider", change: { kind: "role", role: "lab" }, status: 404, code: "MEMBER_NOT_FOUND" },
  { rule: "removing someone outside the clinic", by: "admin", target: "outsider", change: { kind: "remove" }, status: 404, code: "MEMBER_NOT_FOUND" },
  { rule: "a doctor changes a role", by: "doctor", target: "doctor", change: { kind: "role", role: "lab" }, status: 403, code: "FORBIDDEN" },
  { rule: "a doctor removes the owner", by: "doctor", target: "owner", change: { kind: "remove" }, status: 403, code: "FORBIDDEN" },
];

async function memberIdOf(app: FastifyInstance, userId: string): Promise<string> {
  const { rows } = await app.pg.query<{ id: string }>(`SELECT "id" FROM "member" WHERE "userId" = $1`, [userId]);
  return rows[0]!.id;
}

/** The change through Better Auth's organization routes, as its client library sends it. */
async function throughBetterAuth(app: FastifyInstance, clinicId: string, by: Person, target: Person, change: Change) {
  const organizationId = clinicId;
  const request = (route: string, payload: object) =>
    app.inject({ method: "POST", url: `/api/auth/organization/${route}`, headers: { cookie: by.cookie }, payload: { ...payload, organizationId } });
  if (change.kind === "role") return request("update-member-role", { memberId: await memberIdOf(app, target.userId), role: change.role });
  if (change.kind === "remove") return request("remove-member", { memberIdOrEmail: await memberIdOf(app, target.userId) });
  return request("invite-member", { email: uniqueEmail(), role: change.role });
}

/** The same change through the /api routes. */
async function throughApi(app: FastifyInstance, by: Person, target: Person, change: Change) {
  const headers = { cookie: by.cookie };
  if (change.kind === "role") return app.inject({ method: "PATCH", url: `/api/staff/${target.userId}`, headers, payload: { role: change.role } });
  if (change.kind === "remove") return app.inject({ method: "DELETE", url: `/api/staff/${target.userId}`, headers });
  const payload = { name: "Grace Okafor", username: uniqueUsername(), password: PASSWORD, role: change.role };
  return app.inject({ method: "POST", url: "/api/staff", headers, payload });
}

t.test("every membership rule answers the same status and code on both entrances", async (t) => {
  const { app } = await buildTestApp(t);
  const owner = await signUp(app);
  const clinic = await createClinic(app, owner.cookie);
  const people: Record<Rule["by"] | Rule["target"], Person> = {
    owner,
    admin: await addMember(app, owner.cookie, clinic.id, "admin"),
    doctor: await addMember(app, owner.cookie, clinic.id, "doctor"),
    // The owner of another clinic: a member, but not of this one.
    outsider: await signUp(app),
  };
  await createClinic(app, people.outsider.cookie, "Elsewhere Clinic");
  const roles = async () =>
    (await app.pg.query(`SELECT "userId", "role" FROM "member" WHERE "organizationId" = $1 ORDER BY "id"`, [clinic.id])).rows;
  const rolesBefore = await roles();

  for (const { rule, by, target, change, status, code } of rules) {
    const entrances = {
      "Better Auth": await throughBetterAuth(app, clinic.id, people[by], people[target], change),
      "/api": await throughApi(app, people[by], people[target], change),
    };
    for (const [entrance, response] of Object.entries(entrances)) {
      t.equal(response.statusCode, status, `${rule} (${entrance})`);
      t.equal(response.json().code, code, `${rule} (${entrance})`);
    }
  }
  t.same(await roles(), rolesBefore, "nothing changed");
});
