// Who may call each staff and audit endpoint, generated from the role table of the README (the
// table the issue defines) rather than picked by hand.
import { readFileSync } from "node:fs";
import t from "tap";
import { grants, manageStaff, permissionsOf, roles, transferOwnership, type PermissionRequest } from "../src/clinics/roles.js";
import { buildTestApp } from "@temetro/test-support/auth-app";
import { addMember, createClinic, createStaff, PASSWORD, signUp, uniqueUsername } from "@temetro/test-support/auth-requests";

/** The README's role table: role -> resource -> actions. */
function readmeRoleTable(): Map<string, Map<string, string[]>> {
  const readme = readFileSync(new URL("../../../README.md", import.meta.url), "utf8");
  const lines = readme.split("\n");
  const headerIndex = lines.findIndex((line) => /^\| role \| patient \|/.test(line));
  if (headerIndex < 0) throw new Error("the README has no role table");
  const resources = lines[headerIndex]!.split("|").slice(2, -1).map((cell) => cell.trim());
  const table = new Map<string, Map<string, string[]>>();
  for (const line of lines.slice(headerIndex + 2)) {
    if (!line.startsWith("|")) break;
    const [names, ...cells] = line.split("|").slice(1, -1).map((cell) => cell.trim());
    const grantsOfRow = new Map(resources.map((resource, i) => [resource, cells[i] === "-" ? [] : cells[i]!.split(" ")]));
    for (const name of names!.split(",").map((part) => part.trim())) table.set(name, grantsOfRow);
  }
  return table;
}

const table = readmeRoleTable();

t.test("clinics/roles.ts grants exactly what the README's role table says, for all seven roles", async (t) => {
  t.same([...table.keys()].sort(), Object.keys(roles).sort());
  for (const [role, resources] of table) {
    const granted = permissionsOf(role);
    for (const [resource, actions] of resources) {
      t.same([...(granted[resource] ?? [])].sort(), [...actions].sort(), `${role} on ${resource}`);
    }
  }
});

t.test("only owner and admin manage the clinic's people; only the owner transfers ownership", async (t) => {
  const managers = [...table.keys()].filter((role) => grants(permissionsOf(role), manageStaff)).sort();
  t.same(managers, ["admin", "owner"]);
  t.same([...table.keys()].filter((role) => grants(permissionsOf(role), transferOwnership)), ["owner"]);
});

interface Endpoint {
  name: string;
  /** null: any member of the clinic. */
  permission: PermissionRequest | null;
  request: (target: string) => { method: "GET" | "POST" | "PATCH" | "DELETE"; url: string; payload?: object };
}

const endpoints: Endpoint[] = [
  { name: "POST /api/staff", permission: manageStaff, request: () => ({ method: "POST", url: "/api/staff", payload: { name: "New", username: uniqueUsername(), password: PASSWORD, role: "lab" } }) },
  { name: "GET /api/staff", permission: manageStaff, request: () => ({ method: "GET", url: "/api/staff" }) },
  { name: "GET /api/staff/providers", permission: null, request: () => ({ method: "GET", url: "/api/staff/providers" }) },
  { name: "PATCH /api/staff/:userId", permission: manageStaff, request: (target) => ({ method: "PATCH", url: `/api/staff/${target}`, payload: { role: "pharmacy" } }) },
  { name: "POST /api/staff/:userId/password", permission: manageStaff, request: (target) => ({ method: "POST", url: `/api/staff/${target}/password`, payload: { password: "a-new-initial-password" } }) },
  { name: "DELETE /api/staff/:userId", permission: manageStaff, request: (target) => ({ method: "DELETE", url: `/api/staff/${target}` }) },
  { name: "GET /api/audit", permission: manageStaff, request: () => ({ method: "GET", url: "/api/audit" }) },
  // A member that does not exist: an allowed caller gets past the guard (404) without moving ownership.
  { name: "POST /api/clinic/transfer-ownership", permission: transferOwnership, request: () => ({ method: "POST", url: "/api/clinic/transfer-ownership", payload: { userId: "no-such-member" } }) },
];

t.test("every role on every staff and audit endpoint: allowed where the table grants, 403 FORBIDDEN elsewhere", async (t) => {
  const { app } = await buildTestApp(t);
  const owner = await signUp(app);
  const clinic = await createClinic(app, owner.cookie);
  const cookies = new Map<string, string>([["owner", owner.cookie]]);
  for (const role of table.keys()) {
    if (role !== "owner") cookies.set(role, (await addMember(app, owner.cookie, clinic.id, role)).cookie);
  }

  for (const [role, cookie] of cookies) {
    for (const endpoint of endpoints) {
      const allowed = endpoint.permission === null || grants(permissionsOf(role), endpoint.permission);
      const target = (await createStaff(app, owner.cookie, { role: "lab" })).userId;
      const response = await app.inject({ ...endpoint.request(target), headers: { cookie } });
      if (allowed) {
        t.ok(response.statusCode < 400 || response.json().code === "MEMBER_NOT_FOUND", `${role} may ${endpoint.name} (${response.statusCode})`);
      } else {
        t.equal(response.statusCode, 403, `${role} may not ${endpoint.name}`);
        t.equal(response.json().code, "FORBIDDEN");
      }
    }
  }
});
