// The node:http example guarded by @temetro/auth-client/core, against the real auth service over
// HTTP: cookies go through introspection, bearer tokens are checked against the JWKS.
import t from "tap";
import { addMember, cookieOf, createClinic, createStaff, signInByUsername, signUp } from "@temetro/test-support/auth-requests";
import { startAuthService, startPrescriptions } from "./fixtures/auth-service.js";

type AuthService = Awaited<ReturnType<typeof startAuthService>>;

const getPrescriptions = (url: string, headers: Record<string, string> = {}) => fetch(`${url}/prescriptions`, { headers });
const postPrescription = (url: string, headers: Record<string, string> = {}, body: unknown = { text: "Amoxicillin 500 mg, three times a day for 7 days" }) =>
  fetch(`${url}/prescriptions`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
// The tests read answers field by field.
const jsonOf = (response: Response): Promise<any> => response.json(); // eslint-disable-line @typescript-eslint/no-explicit-any
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function tokenOf(service: AuthService, cookie: string): Promise<string> {
  const response = await service.app.inject({ method: "GET", url: "/api/auth/token", headers: { cookie } });
  if (response.statusCode !== 200) throw new Error(`token failed: ${response.statusCode} ${response.body}`);
  return response.json().token as string;
}

/** An owner with a clinic, a pharmacist and a lab member of it, each signed in. */
async function clinicWithStaff(service: AuthService) {
  const owner = await signUp(service.app);
  const clinic = await createClinic(service.app, owner.cookie);
  const pharmacy = await addMember(service.app, owner.cookie, clinic.id, "pharmacy");
  const lab = await addMember(service.app, owner.cookie, clinic.id, "lab");
  return { owner, clinic, pharmacy, lab };
}

t.test("with a session cookie: 401 without a session, 403 without a clinic or the permission, 201/200 with them", async (t) => {
  const service = await startAuthService(t);
  const { url, logText } = await startPrescriptions(t, service.clientOptions);

  const anonymous = await getPrescriptions(url);
  t.equal(anonymous.status, 401);
  t.equal(anonymous.headers.get("www-authenticate"), 'Bearer realm="temetro"');
  t.same(await jsonOf(anonymous), { error: "Sign in first: no valid session", code: "UNAUTHENTICATED", message: "Sign in first: no valid session" });
  t.equal((await getPrescriptions(url, { cookie: "better-auth.session_token=forged.value" })).status, 401);

  const loner = await signUp(service.app);
  const noClinic = await getPrescriptions(url, { cookie: loner.cookie });
  t.equal(noClinic.status, 403);
  t.equal((await jsonOf(noClinic)).code, "NO_ACTIVE_CLINIC");
  const me = await fetch(`${url}/me`, { headers: { cookie: loner.cookie } });
  t.same(await jsonOf(me), { userId: loner.userId, via: "session", clinic: null }, "a session without a clinic is still someone");

  const { clinic, pharmacy, lab } = await clinicWithStaff(service);
  const written = await postPrescription(url, { cookie: pharmacy.cookie });
  t.equal(written.status, 201, "pharmacy writes prescriptions");
  t.match((await jsonOf(written)).prescription, { clinicId: clinic.id, prescriberId: pharmacy.userId });
  const read = await getPrescriptions(url, { cookie: pharmacy.cookie });
  t.equal(read.status, 200);
  t.equal((await jsonOf(read)).prescriptions.length, 1);

  const labRead = await getPrescriptions(url, { cookie: lab.cookie });
  t.equal(labRead.status, 403, "lab may not read prescriptions");
  t.same(await jsonOf(labRead), { error: "Your role in this clinic does not allow this", code: "FORBIDDEN", message: "Your role in this clinic does not allow this" });
  t.notOk(logText().includes(pharmacy.cookie.split("=")[1]!.slice(0, 20)), "no cookie in the service's log");
});

t.test("a staff account that must still replace its initial password gets 403 PASSWORD_CHANGE_REQUIRED", async (t) => {
  const service = await startAuthService(t);
  const { url } = await startPrescriptions(t, service.clientOptions);
  const owner = await signUp(service.app);
  await createClinic(service.app, owner.cookie);
  const staff = await createStaff(service.app, owner.cookie, { role: "doctor" });
  const cookie = cookieOf(await signInByUsername(service.app, staff.username));
  const response = await getPrescriptions(url, { cookie });
  t.equal(response.status, 403);
  t.equal((await jsonOf(response)).code, "PASSWORD_CHANGE_REQUIRED");
});

t.test("with a JWT from /api/auth/token: the same answers, permissions from the role table", async (t) => {
  const service = await startAuthService(t);
  const { url, logText } = await startPrescriptions(t, service.clientOptions);
  const { owner, clinic, pharmacy, lab } = await clinicWithStaff(service);
  const ownerToken = await tokenOf(service, owner.cookie);

  const written = await postPrescription(url, bearer(ownerToken));
  t.equal(written.status, 201);
  t.match((await jsonOf(written)).prescription, { clinicId: clinic.id, prescriberId: owner.userId });
  const me = await fetch(`${url}/me`, { headers: bearer(ownerToken) });
  t.same(await jsonOf(me), { userId: owner.userId, via: "jwt", clinic: { id: clinic.id, role: "owner" } });
  t.equal((await getPrescriptions(url, bearer(await tokenOf(service, pharmacy.cookie)))).status, 200);
  t.equal((await getPrescriptions(url, bearer(await tokenOf(service, lab.cookie)))).status, 403);

  // A bad bearer token is refused, even alongside a good cookie, and the refusal names the failed check.
  const tampered = ownerToken.slice(0, -4) + (ownerToken.endsWith("AAAA") ? "BBBB" : "AAAA");
  const refused = await getPrescriptions(url, { ...bearer(tampered), cookie: owner.cookie });
  t.equal(refused.status, 401);
  t.same(await jsonOf(refused), { error: "The bearer token is not valid", code: "UNAUTHENTICATED", message: "The bearer token is not valid" });
  t.equal(refused.headers.get("www-authenticate"), 'Bearer realm="temetro", error="invalid_token", error_description="TOKEN_SIGNATURE_INVALID"');
  t.match(logText(), /TOKEN_SIGNATURE_INVALID/, "the log says why");
  t.notOk(logText().includes(ownerToken.split(".")[2]!), "no token in the service's log");
});

t.test("a JWT for another audience or from another issuer is refused, naming the claim", async (t) => {
  const service = await startAuthService(t);
  const { owner } = await clinicWithStaff(service);
  const token = await tokenOf(service, owner.cookie);
  const jwt = service.clientOptions.jwt;
  for (const [override, tokenError] of [
    [{ audience: "billing" }, "TOKEN_AUDIENCE_INVALID"],
    [{ issuer: "https://auth.elsewhere.example" }, "TOKEN_ISSUER_INVALID"],
    [{ algorithms: ["ES256"] }, "TOKEN_SIGNATURE_INVALID"],
  ] as const) {
    const { url } = await startPrescriptions(t, { ...service.clientOptions, jwt: { ...jwt, ...override } });
    const response = await getPrescriptions(url, bearer(token));
    t.equal(response.status, 401, tokenError);
    t.equal((await jsonOf(response)).code, "UNAUTHENTICATED", tokenError);
    t.match(response.headers.get("www-authenticate"), `error_description="${tokenError}"`, tokenError);
  }
});

t.test("the auth service unreachable: 503 AUTH_UNAVAILABLE with Retry-After, not a 500", async (t) => {
  // Nothing listens on port 9 (discard).
  const { url, logText } = await startPrescriptions(t, { introspectionUrl: "http://127.0.0.1:9/internal/v1/introspect" });
  const response = await getPrescriptions(url, { cookie: "better-auth.session_token=some.value" });
  t.equal(response.status, 503);
  t.equal(response.headers.get("retry-after"), "5");
  t.equal((await jsonOf(response)).code, "AUTH_UNAVAILABLE");
  t.match(logText(), /introspection request failed/);
});

t.test("bad requests get the registry's codes; the body of an unauthenticated request is not read", async (t) => {
  const service = await startAuthService(t);
  const { url } = await startPrescriptions(t, service.clientOptions);
  const { pharmacy } = await clinicWithStaff(service);
  const cookie = { cookie: pharmacy.cookie };

  const notJson = await fetch(`${url}/prescriptions`, { method: "POST", headers: { ...cookie, "content-type": "application/json" }, body: "{" });
  t.equal(notJson.status, 400);
  t.equal((await jsonOf(notJson)).code, "INVALID_JSON");
  const empty = await postPrescription(url, cookie, { text: "" });
  t.equal(empty.status, 400);
  t.equal((await jsonOf(empty)).code, "VALIDATION_ERROR");
  const text = await fetch(`${url}/prescriptions`, { method: "POST", headers: { ...cookie, "content-type": "text/plain" }, body: "hello" });
  t.equal(text.status, 415);
  const large = await postPrescription(url, cookie, { text: "x".repeat(20_000) });
  t.equal(large.status, 413);
  t.equal((await jsonOf(large)).code, "BODY_TOO_LARGE");
  const anonymous = await fetch(`${url}/prescriptions`, { method: "POST", headers: { "content-type": "application/json" }, body: "{" });
  t.equal(anonymous.status, 401, "refused before its (malformed) body");
  const nowhere = await fetch(`${url}/nowhere`);
  t.equal(nowhere.status, 404);
  t.equal((await jsonOf(nowhere)).code, "NOT_FOUND");
  t.same(await jsonOf(await fetch(`${url}/health`)), { status: "ok" });
});
