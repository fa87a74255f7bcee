// GET /api/auth/organization/list-members: its filter, sort and paging parameters are checked
// before they reach the database, where a bad one used to be a 500.
import t from "tap";
import { buildTestApp } from "@temetro/test-support/auth-app";
import { createClinic, signUp } from "@temetro/test-support/auth-requests";

t.test("a filter, sort or page the database cannot run is a 400 VALIDATION_ERROR naming the parameter", async (t) => {
  const { app, logs } = await buildTestApp(t);
  const { cookie } = await signUp(app);
  await createClinic(app, cookie);
  const refused: [string, string][] = [
    ["filterField=name&filterValue=x", "filterField"],
    ["filterField=%20&filterValue=x", "filterField"],
    ["filterField=role", "filterValue"],
    ["filterField=role&filterOperator=in&filterValue=owner", "filterValue"],
    ["filterField=role&filterValue=owner&filterValue=admin", "filterValue"],
    ["filterField=role&filterOperator=ends_with&filterValue=%5C", "filterValue"],
    ["sortBy=nope", "sortBy"],
    ["offset=-5", "offset"],
    ["limit=1e999", "limit"],
    ["limit=abc", "limit"],
  ];
  for (const [query, parameter] of refused) {
    const response = await app.inject({ method: "GET", url: `/api/auth/organization/list-members?${query}`, headers: { cookie } });
    t.equal(response.statusCode, 400, query);
    t.equal(response.json().code, "VALIDATION_ERROR", query);
    t.match(response.json().error, parameter, query);
  }
  t.notMatch(logs.text(), /"level":50/, "nothing failed inside");
});

t.test("filters, sorts and pages that make sense still list the members", async (t) => {
  const { app } = await buildTestApp(t);
  const owner = await signUp(app);
  await createClinic(app, owner.cookie);
  for (const query of [
    "filterField=role&filterValue=owner",
    "filterField=role&filterOperator=in&filterValue=owner&filterValue=admin",
    "filterField=role&filterOperator=starts_with&filterValue=ow",
    "sortBy=createdAt&sortDirection=desc",
    "limit=1&offset=0",
  ]) {
    const response = await app.inject({ method: "GET", url: `/api/auth/organization/list-members?${query}`, headers: { cookie: owner.cookie } });
    t.equal(response.statusCode, 200, query);
    t.same(response.json().members.map((member: { userId: string }) => member.userId), [owner.userId], query);
  }
});
