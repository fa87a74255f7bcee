// get-session is answered from the session directory's cache while nothing changed, and never
// after a change: on this replica at once, on the others as soon as the invalidation arrives.
import t from "tap";
import { buildReplicas, buildTestApp } from "@temetro/test-support/auth-app";
import { createClinic, signUp } from "@temetro/test-support/auth-requests";
import { eventually } from "@temetro/test-support/polling";

t.test("a change to the user or the session shows in the next get-session", async (t) => {
  const { app } = await buildTestApp(t);
  const { cookie } = await signUp(app, { name: "Before Rename" });
  const getSession = async () => (await app.inject({ method: "GET", url: "/api/auth/get-session", headers: { cookie } })).json();

  const first = await getSession();
  t.same(await getSession(), first, "unchanged, the same answer");

  const rename = await app.inject({ method: "POST", url: "/api/auth/update-user", headers: { cookie }, payload: { name: "After Rename" } });
  t.equal(rename.statusCode, 200);
  t.equal((await getSession()).user.name, "After Rename");

  const clinic = await createClinic(app, cookie);
  t.equal((await getSession()).session.activeOrganizationId, clinic.id, "creating a clinic made it active");
});

t.test("across replicas: a sign-out on one shows in get-session on the other", async (t) => {
  const [first, second] = await buildReplicas(t, 2);
  const { cookie, email } = await signUp(first!.app);
  const getSession = async () =>
    (await first!.app.inject({ method: "GET", url: "/api/auth/get-session", headers: { cookie } })).json();
  t.match(await getSession(), { user: { email } });
  t.match(await getSession(), { user: { email } }, "kept by the first replica");

  t.equal((await second!.app.inject({ method: "POST", url: "/api/auth/sign-out", headers: { cookie } })).statusCode, 200);
  t.equal(await eventually(getSession, (body) => body === null), null, "signed out everywhere");
});
