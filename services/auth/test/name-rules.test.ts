// Names of people and clinics are bounded and hold no control characters, on every entrance.
import t from "tap";
import type { FastifyInstance } from "fastify";
import { buildTestApp } from "@temetro/test-support/auth-app";
import { createClinic, PASSWORD, signUp, uniqueEmail, uniqueUsername } from "@temetro/test-support/auth-requests";

const tooLong = "A".repeat(101);
const longest = "Ａ".repeat(100);
const badNames = [tooLong, "Dr. Amina\nBCC: everyone", "Tab\there", "\u202egnp.exe", " ", ""];

/** Each entrance that takes a name, as a request with `name` in its place. */
function entrances(app: FastifyInstance, cookie: string, clinicId: string) {
  return {
    "sign-up": (name: string) =>
      app.inject({ method: "POST", url: "/api/auth/sign-up/email", payload: { name, email: uniqueEmail(), password: PASSWORD } }),
    "update-user": (name: string) => app.inject({ method: "POST", url: "/api/auth/update-user", headers: { cookie }, payload: { name } }),
    "organization/create": (name: string) =>
      app.inject({
        method: "POST",
        url: "/api/auth/organization/create",
        headers: { cookie },
        payload: { name, slug: `clinic-${uniqueUsername().toLowerCase().replace(/_/g, "-")}` },
      }),
    "organization/update": (name: string) =>
      app.inject({ method: "POST", url: "/api/auth/organization/update", headers: { cookie }, payload: { organizationId: clinicId, data: { name } } }),
    "/api/staff": (name: string) =>
      app.inject({
        method: "POST",
        url: "/api/staff",
        headers: { cookie },
        payload: { name, username: uniqueUsername(), password: PASSWORD, role: "lab" },
      }),
  };
}

t.test("a name over 100 characters, empty, or with control characters is refused with INVALID_NAME everywhere", async (t) => {
  const { app } = await buildTestApp(t);
  const owner = await signUp(app);
  const clinic = await createClinic(app, owner.cookie);
  for (const [entrance, send] of Object.entries(entrances(app, owner.cookie, clinic.id))) {
    for (const name of badNames) {
      const response = await send(name);
      t.equal(response.statusCode, 400, `${entrance}: ${JSON.stringify(name)}`);
      t.equal(response.json().code, "INVALID_NAME", `${entrance}: ${JSON.stringify(name)}`);
    }
  }
  const { rows } = await app.pg.query(`SELECT "name" FROM "organization" WHERE "id" = $1`, [clinic.id]);
  t.equal(rows[0].name, "Sunrise Clinic", "the clinic kept its name");
});

t.test("100 characters (not bytes) are accepted everywhere", async (t) => {
  const { app } = await buildTestApp(t);
  const owner = await signUp(app);
  const clinic = await createClinic(app, owner.cookie);
  for (const [entrance, send] of Object.entries(entrances(app, owner.cookie, clinic.id))) {
    const response = await send(longest);
    t.ok(response.statusCode === 200 || response.statusCode === 201, `${entrance}: ${response.statusCode} ${response.body}`);
  }
});
