// Issue 12, point 8: names cannot impersonate. A display username is the account's own username
// (only its case may differ), on sign-up and update-user; /api/staff never shows one username twice.
import pg from "pg";
import t from "tap";
import { buildTestApp, testDatabaseUrl } from "@temetro/test-support/auth-app";
import { addMember, createClinic, createStaff, PASSWORD, signUp, uniqueEmail, uniqueUsername } from "@temetro/test-support/auth-requests";

t.test("sign-up cannot take another account's username as its display username", async (t) => {
  const { app } = await buildTestApp(t);
  const owner = await signUp(app);
  await createClinic(app, owner.cookie);
  const staff = await createStaff(app, owner.cookie, { username: uniqueUsername("FrontDesk") });
  const signUpWith = (fields: Record<string, string>) =>
    app.inject({ method: "POST", url: "/api/auth/sign-up/email", payload: { name: "Eve", email: uniqueEmail("eve"), password: PASSWORD, ...fields } });

  const attempts: Record<string, string>[] = [
    { username: uniqueUsername("eve"), displayUsername: staff.username },
    { username: uniqueUsername("eve"), displayUsername: staff.username.toUpperCase() },
    { displayUsername: "Front Desk" },
  ];
  for (const fields of attempts) {
    const refused = await signUpWith(fields);
    t.equal(refused.statusCode, 400, JSON.stringify(fields));
    t.equal(refused.json().code, "INVALID_DISPLAY_USERNAME");
  }
  const taken = await signUpWith({ displayUsername: staff.username.toUpperCase() });
  t.equal(taken.json().code, "USERNAME_IS_ALREADY_TAKEN", "a display username alone is the username, and that one is taken");

  const own = uniqueUsername("Eve");
  const accepted = await signUpWith({ username: own.toLowerCase(), displayUsername: own });
  t.equal(accepted.statusCode, 200, "the own username in another case is accepted");
  t.equal(accepted.json().user.displayUsername, own);
});

t.test("update-user cannot set another account's username as the display username; changing the username changes both", async (t) => {
  const { app } = await buildTestApp(t);
  const owner = await signUp(app);
  await createClinic(app, owner.cookie);
  const staff = await createStaff(app, owner.cookie);
  const eve = await signUp(app, { username: uniqueUsername("eve") });
  const update = (payload: Record<string, string>) =>
    app.inject({ method: "POST", url: "/api/auth/update-user", headers: { cookie: eve.cookie }, payload });
  const session = async () => (await app.inject({ method: "GET", url: "/api/auth/get-session", headers: { cookie: eve.cookie } })).json().user;

  const refused = await update({ displayUsername: staff.username });
  t.equal(refused.statusCode, 400);
  t.equal(refused.json().code, "INVALID_DISPLAY_USERNAME");
  t.equal((await update({ username: uniqueUsername("eve2"), displayUsername: staff.username })).json().code, "INVALID_DISPLAY_USERNAME");

  t.equal((await update({ displayUsername: eve.username!.toUpperCase() })).statusCode, 200, "the own username in another case");
  t.equal((await session()).displayUsername, eve.username!.toUpperCase());

  const renamed = uniqueUsername("Evelyn");
  t.equal((await update({ username: renamed })).statusCode, 200);
  t.match(await session(), { username: renamed.toLowerCase(), displayUsername: renamed }, "the display form follows the username");
});

t.test("/api/staff shows the username each member signs in with, never one twice", async (t) => {
  const { app } = await buildTestApp(t);
  const owner = await signUp(app);
  const clinic = await createClinic(app, owner.cookie);
  const typed = uniqueUsername("FrontDesk");
  const staff = await createStaff(app, owner.cookie, { username: typed });
  const member = await addMember(app, owner.cookie, clinic.id, "doctor");
  const memberUsername = uniqueUsername("doc");
  const named = await app.inject({ method: "POST", url: "/api/auth/update-user", headers: { cookie: member.cookie }, payload: { username: memberUsername } });
  t.equal(named.statusCode, 200);

  // A display username from before the rule, naming the staff account.
  const db = new pg.Client({ connectionString: testDatabaseUrl });
  await db.connect();
  t.teardown(() => db.end());
  await db.query(`UPDATE "user" SET "displayUsername" = $2 WHERE "id" = $1`, [member.userId, typed]);

  const list = (await app.inject({ method: "GET", url: "/api/staff", headers: { cookie: owner.cookie } })).json().staff as {
    userId: string;
    username: string | null;
  }[];
  const usernames = list.map((row) => row.username).filter((name) => name !== null);
  t.equal(new Set(usernames.map((name) => name!.toLowerCase())).size, usernames.length, "no username shown twice");
  t.equal(list.find((row) => row.userId === staff.userId)?.username, typed, "a staff account shows its username as typed");
  t.equal(list.find((row) => row.userId === member.userId)?.username, memberUsername, "the member shows the username they sign in with");
});
