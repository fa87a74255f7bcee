// Nobody learns from the public API whether a username exists: staff usernames are what a password
// guesser needs first, and the staff themselves never need to ask.
import t from "tap";
import { buildTestApp } from "@temetro/test-support/auth-app";
import { createClinic, createStaff, signUp } from "@temetro/test-support/auth-requests";

const spellings = [
  "/api/auth/is-username-available",
  "/api/auth/is-username-available/",
  "/api/auth//is-username-available",
  "/api/auth/./is-username-available",
  "/api/auth/x/../is-username-available",
  "/api/auth/%69s-username-available",
  "/api/auth/IS-USERNAME-AVAILABLE",
];

t.test("is-username-available answers 404 to anyone, signed in or not, for a taken and a free username alike", async (t) => {
  const { app } = await buildTestApp(t);
  const owner = await signUp(app);
  await createClinic(app, owner.cookie);
  const staff = await createStaff(app, owner.cookie);

  const answers = new Set<string>();
  for (const cookie of [undefined, owner.cookie]) {
    for (const url of spellings) {
      for (const username of [staff.username, "nobody_has_this_name"]) {
        const response = await app.inject({ method: "POST", url, headers: cookie ? { cookie } : {}, payload: { username } });
        t.equal(response.statusCode, 404, `${cookie ? "owner" : "anonymous"} ${url} ${username}`);
        t.equal(response.json().code, "NOT_FOUND");
        answers.add(`${response.statusCode} ${response.body}`);
      }
    }
  }
  t.equal(answers.size, 1, "one and the same answer whatever the username");
});
