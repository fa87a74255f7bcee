// The README's two error tables against what the code can send: the registry
// (packages/auth-client/src/error-codes.ts) and every code the source hands to HttpError, sendError,
// an APIError or an error body, so a code added, renamed or retired without the README fails here.
import { readdirSync, readFileSync } from "node:fs";
import t from "tap";
import { errorCodes } from "@temetro/auth-client/errors";
import { buildTestApp } from "@temetro/test-support/auth-app";

const repository = new URL("../../../", import.meta.url);
const registryFile = new URL("packages/auth-client/src/error-codes.ts", repository);

/** The first two cells of each row of the README table whose header row starts with `header`. */
function readmeTable(header: string): Map<string, string> {
  const lines = readFileSync(new URL("README.md", repository), "utf8").split("\n");
  const start = lines.findIndex((line) => line.startsWith(header));
  if (start < 0) throw new Error(`the README has no table headed "${header}"`);
  const rows = new Map<string, string>();
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith("|")) break;
    const [code, second] = line.split("|").slice(1, -1).map((cell) => cell.trim());
    rows.set(code!.replace(/`/g, ""), second!);
  }
  return rows;
}

function sourcesUnder(folder: URL): string[] {
  return readdirSync(folder, { recursive: true, encoding: "utf8" })
    .filter((name) => name.endsWith(".ts"))
    .map((name) => new URL(name, folder))
    .filter((file) => file.href !== registryFile.href)
    .map((file) => readFileSync(file, "utf8"));
}

const code = "([A-Z][A-Z0-9_]+)";
/** Where the source names a code of ours: `ErrorCode.X` (any registry view), or a literal in a body or a call. */
const ourCodePatterns = [
  new RegExp(`ErrorCode\\.${code}`, "g"),
  // The health answers both services share (shared/src/health.ts).
  new RegExp(`HealthCode\\.${code}`, "g"),
  new RegExp(`\\berrorCodes\\.${code}`, "g"),
  new RegExp(`\\bcode:\\s*"${code}"`, "g"),
  new RegExp(`\\b(?:HttpError|sendError)\\(\\s*(?:[\\w.]+\\s*,\\s*){0,2}"${code}"`, "g"),
];
/** Better Auth's codes the source sends itself (the lockout answers exactly as a wrong password). */
const betterAuthCodePattern = new RegExp(`\\b[A-Z]+_ERROR_CODES\\.${code}`, "g");

function codesIn(sources: string[], patterns: RegExp[]): Set<string> {
  const found = new Set<string>();
  for (const source of sources) for (const pattern of patterns) for (const match of source.matchAll(pattern)) found.add(match[1]!);
  return found;
}

const sources = [
  ...sourcesUnder(new URL("services/auth/src/", repository)),
  ...sourcesUnder(new URL("packages/auth-client/src/", repository)),
  ...sourcesUnder(new URL("shared/src/", repository)),
];
const sentCodes = codesIn(sources, ourCodePatterns);
const registryCodes = new Set(Object.keys(errorCodes));
const documented = readmeTable("| code | status |");
const documentedBetterAuth = readmeTable("| Better Auth code |");

const sorted = (codes: Iterable<string>) => [...codes].sort();
const missingFrom = (codes: Iterable<string>, from: Set<string> | Map<string, string>) => sorted([...codes].filter((c) => !from.has(c)));

t.test("the README's table names exactly the registry's codes", async (t) => {
  t.same(missingFrom(registryCodes, documented), [], "every registry code is documented");
  t.same(missingFrom(documented.keys(), registryCodes), [], "the table names no code outside the registry");
});

t.test("every code the source sends is in the registry, and every registry code is sent somewhere", async (t) => {
  t.same(missingFrom(sentCodes, registryCodes), [], "no code is sent that the registry (and so the README) lacks");
  t.same(missingFrom(registryCodes, sentCodes), [], "no registry code (and so no README row) is one nothing sends");
});

t.test("the README gives each code with a fixed status that status", async (t) => {
  for (const [name, { status }] of Object.entries(errorCodes)) {
    if (status === undefined) t.notMatch(documented.get(name) ?? "", /^\d+$/, `${name}: its status varies`);
    else t.equal(documented.get(name), String(status), name);
  }
});

t.test("the README's Better Auth codes are Better Auth's, and include those the service sends itself", async (t) => {
  const { app } = await buildTestApp(t);
  const betterAuthCodes = new Set(Object.keys(app.auth.$ERROR_CODES));
  t.ok(documentedBetterAuth.size > 0, "the README lists Better Auth's codes a client must handle");
  t.same(missingFrom(documentedBetterAuth.keys(), betterAuthCodes), [], "each is a code of the configured Better Auth");
  t.same(missingFrom(codesIn(sources, [betterAuthCodePattern]), documentedBetterAuth), [], "the service's own uses are listed");
  t.same(sorted([...documentedBetterAuth.keys()].filter((c) => registryCodes.has(c))), [], "no code is in both tables");
});

t.test("a refusal without a more specific message carries its registry message and status", async (t) => {
  const { app } = await buildTestApp(t);
  const unauthenticated = await app.inject({ method: "GET", url: "/api/clinic" });
  t.equal(unauthenticated.statusCode, errorCodes.UNAUTHENTICATED.status);
  t.same(unauthenticated.json(), { error: errorCodes.UNAUTHENTICATED.message, code: "UNAUTHENTICATED", message: errorCodes.UNAUTHENTICATED.message });

  const badJson = await app.inject({
    method: "POST",
    url: "/api/auth/sign-in/email",
    headers: { "content-type": "application/json" },
    payload: '{ "email": ',
  });
  t.equal(badJson.statusCode, errorCodes.INVALID_JSON.status);
  t.same(badJson.json(), { error: errorCodes.INVALID_JSON.message, code: "INVALID_JSON", message: errorCodes.INVALID_JSON.message });
});
