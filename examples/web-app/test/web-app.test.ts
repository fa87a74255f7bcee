// The web app's side, as browser code (examples/web-app/src), compiled with tsc and run against the
// real auth service (PostgreSQL, Redis) over HTTP from another origin, through Better Auth's own
// client typed by @temetro/auth-client/web.
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import t, { type Test } from "tap";
import { roleGrants, type PermissionQuery, type RoleName } from "@temetro/auth-client/web";
import { buildTestApp } from "@temetro/test-support/auth-app";
import { createStaff, emailTo, PASSWORD, uniqueEmail, verifyAddress } from "@temetro/test-support/auth-requests";
import {
  acceptInvitation,
  changePassword,
  clinicSettings,
  createClinic,
  createTemetroAuth,
  firstScreen,
  inviteColleague,
  mayI,
  mayRole,
  setStaffMustChangePassword,
  signInWithUsername,
  signUp,
} from "../src/app.js";
import { browserAt } from "./fixtures/browser.js";

const exampleDir = fileURLToPath(new URL("..", import.meta.url));
const tsc = fileURLToPath(new URL("../../../node_modules/typescript/bin/tsc", import.meta.url));
/** The web app's origin: the test service's FRONTEND_URL, trusted for CORS and Better Auth's origin check. */
const webAppOrigin = "http://localhost:3000";

const typecheck = (project: string) => spawnSync(process.execPath, [tsc, "--noEmit", "-p", project], { cwd: exampleDir, encoding: "utf8" });

// Two compilations of the example and its imports: half a minute each on a busy machine.
t.setTimeout(300_000);

t.before(() => {
  // The example reads the client's shipped declarations: build them when stale (a no-op after `npx tsc -b`).
  const build = spawnSync(process.execPath, [tsc, "-b", "../../packages/auth-client"], { cwd: exampleDir, encoding: "utf8" });
  if (build.status !== 0) throw new Error(`tsc -b packages/auth-client failed:\n${build.stdout}${build.stderr}`);
});

t.test("the example compiles as browser code against the shipped declarations, its @ts-expect-error lines included", async (t) => {
  const result = typecheck("tsconfig.json");
  t.equal(result.status, 0, result.stdout + result.stderr);
});

t.test("without their @ts-expect-error, the mistakes fail to compile, each for its own reason", async (t) => {
  // A copy inside the example, so that it resolves the workspace's packages as the example does.
  const copy = mkdtempSync(join(exampleDir, ".typecheck-"));
  t.teardown(() => rmSync(copy, { recursive: true, force: true }));
  cpSync(join(exampleDir, "src"), join(copy, "src"), { recursive: true });
  const lines = readFileSync(join(exampleDir, "src/strict-typing.ts"), "utf8").split("\n");
  const kept = lines.filter((line) => line.trim() !== "// @ts-expect-error");
  writeFileSync(join(copy, "src/strict-typing.ts"), kept.join("\n"));
  writeFileSync(join(copy, "tsconfig.json"), JSON.stringify({ extends: "../tsconfig.json", include: ["src"] }));

  const result = typecheck(join(copy, "tsconfig.json"));
  t.not(result.status, 0);
  const errors = [...result.stdout.matchAll(/strict-typing\.ts\((\d+),\d+\): error (TS\d+): (.*)/g)].map(([, line, code, message]) => ({
    source: kept[Number(line) - 1]!.trim(),
    code,
    message: message!,
  }));
  t.equal(errors.length, lines.length - kept.length, "one error per removed directive");
  const errorOn = (fragment: string) => errors.find((error) => error.source.includes(fragment));
  t.match(errorOn('role: "nurse"')?.message, /"nurse"' is not assignable to type 'OrganizationInvitationRole/, "a role temetro lacks");
  t.match(errorOn("spaceship")?.message, /'spaceship' does not exist/, "a resource temetro lacks");
  t.match(errorOn('lab: ["delete"]')?.message, /"delete"' is not assignable to type '"read" \| "write"'/, "an action the lab resource lacks");
  t.match(errorOn('staffMustChangePassword: "no"')?.message, /'string' is not assignable to type 'boolean/, "the clinic's field is a boolean");
  t.match(errorOn("const flag: string")?.message, /'boolean \| null \| undefined' is not assignable to type 'string'/, "the user's field is a boolean");
  t.notMatch(result.stdout, /src\/app\.ts/, "the app itself compiles");
});

/** The real auth service listening on a free port, as the web app reaches it. */
async function startAuthService(t: Test) {
  const { app } = await buildTestApp(t);
  await app.listen({ host: "127.0.0.1", port: 0 });
  return { app, url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` };
}

/** A browser tab of the web app with its own cookies, and the app's client in it. */
function openWebApp(serviceUrl: string) {
  const browser = browserAt(webAppOrigin);
  return { browser, auth: createTemetroAuth(serviceUrl, { customFetchImpl: browser.customFetchImpl }) };
}

t.test("an owner creates a clinic and invites a doctor, who joins; hasPermission answers per role", async (t) => {
  const service = await startAuthService(t);
  const owner = openWebApp(service.url);
  await signUp(owner.auth, { name: "Dr. Amina Yusuf", email: uniqueEmail("owner"), password: PASSWORD });
  t.equal(await firstScreen(owner.auth), "clinic");
  // The owner follows the emailed verification link in the same browser (inviting needs a verified address).
  await verifyAddress(service.app, owner.browser.cookie());
  const clinic = await createClinic(owner.auth, "Sunrise Clinic", `sunrise-${randomUUID().slice(0, 8)}`);
  t.equal(clinic.staffMustChangePassword, true, "a new clinic asks staff to replace their initial password");

  const doctorEmail = uniqueEmail("doctor");
  const invitation = await inviteColleague(owner.auth, clinic.id, doctorEmail, "doctor");
  t.same(invitation, { id: invitation.id, role: "doctor", email: doctorEmail });

  const doctor = openWebApp(service.url);
  await signUp(doctor.auth, { name: "Dr. Tunde Bello", email: doctorEmail, password: PASSWORD });
  await verifyAddress(service.app, doctor.browser.cookie());
  const invitationId = new URL((await emailTo(service.app, doctorEmail, "invitation")).url).searchParams.get("invitationId")!;
  t.equal(invitationId, invitation.id, "the emailed link names the invitation");
  t.same(await acceptInvitation(doctor.auth, invitationId), { clinicId: clinic.id, role: "doctor" });

  t.equal(await mayI(doctor.auth, { patient: ["read", "write"] }), true, "a doctor reads and writes patients");
  t.equal(await mayI(doctor.auth, { patient: ["delete"] }), false, "a doctor does not delete patients");
  t.equal(await mayI(doctor.auth, { member: ["create"] }), false, "a doctor does not manage staff");
  t.equal(await mayI(owner.auth, { patient: ["delete"], member: ["create"] }), true, "the owner does both");
  t.ok(owner.browser.preflights() > 0, "the JSON posts went through real preflights");
});

t.test("checkRolePermission in the browser agrees with the role table for all seven roles", async (t) => {
  // No request: the role's grants travel with the web entry.
  const { auth } = openWebApp("http://127.0.0.1:9");
  for (const [role, grants] of Object.entries(roleGrants) as [RoleName, Record<string, readonly string[]>][]) {
    for (const [resource, actions] of Object.entries(roleGrants.owner)) {
      for (const action of actions) {
        const permissions = { [resource]: [action] } as PermissionQuery;
        t.equal(mayRole(auth, role, permissions), grants[resource]?.includes(action) ?? false, `${role} ${resource}:${action}`);
      }
    }
  }
  t.equal(mayRole(auth, "lab", { lab: ["read"] }), true);
  t.equal(mayRole(auth, "reception", { prescription: ["read"] }), false);
});

t.test("a staff account sees mustChangePassword until it replaces its initial password; the clinic's switch reads back", async (t) => {
  const service = await startAuthService(t);
  const owner = openWebApp(service.url);
  await signUp(owner.auth, { name: "Dr. Amina Yusuf", email: uniqueEmail("owner"), password: PASSWORD });
  await verifyAddress(service.app, owner.browser.cookie());
  const clinic = await createClinic(owner.auth, "Harbour Clinic", `harbour-${randomUUID().slice(0, 8)}`);
  const staff = await createStaff(service.app, owner.browser.cookie(), { role: "reception" });

  const reception = openWebApp(service.url);
  const signedIn = await signInWithUsername(reception.auth, staff.username, staff.password);
  t.equal(signedIn.user.username, staff.username.toLowerCase());
  t.equal(await firstScreen(reception.auth), "change-password", "the initial password comes first");
  t.same(await changePassword(reception.auth, staff.password, `${PASSWORD}-of-my-own`), { mustChangePassword: false });
  t.equal(await firstScreen(reception.auth), "clinic");
  t.equal(await mayI(reception.auth, { appointment: ["write"] }), true, "and the clinic's data opens");

  t.same(await clinicSettings(owner.auth), { id: clinic.id, name: "Harbour Clinic", staffMustChangePassword: true });
  t.same(await setStaffMustChangePassword(owner.auth, clinic.id, false), { staffMustChangePassword: false });
  t.equal((await clinicSettings(owner.auth)).staffMustChangePassword, false);
});
