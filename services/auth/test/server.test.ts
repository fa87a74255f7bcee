// The process as `npm start` runs it: real HTTP, a client that sends no Origin (like curl),
// a clear message when a dependency is unreachable, and a clean stop on SIGTERM.
import { once } from "node:events";
import t from "tap";
import { startServer } from "@temetro/test-support/auth-process";
import { uniqueEmail } from "@temetro/test-support/auth-requests";

/** A minimal cookie jar, as `curl -c`/`-b` keeps one. */
function jar() {
  let cookie = "";
  return {
    header: (): Record<string, string> => (cookie ? { cookie } : {}),
    keep(response: Response) {
      const set = response.headers.getSetCookie();
      if (set.length > 0) cookie = set.map((line) => line.split(";")[0]).join("; ");
    },
  };
}

t.test("over real HTTP, a client sending no Origin follows the API page from sign-up to sign-out", async (t) => {
  const server = startServer({});
  t.teardown(() => {
    server.child.kill("SIGKILL");
  });
  const base = await server.baseUrl;
  const cookies = jar();
  const post = async (path: string, body?: unknown) => {
    const response = await fetch(`${base}${path}`, {
      method: "POST",
      headers: { ...cookies.header(), ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    cookies.keep(response);
    return response;
  };

  const email = uniqueEmail("amina");
  const signUp = await post("/api/auth/sign-up/email", { name: "Dr. Amina Yusuf", email, password: "a-long-secure-password" });
  t.equal(signUp.status, 200);
  const signIn = await post("/api/auth/sign-in/email", { email, password: "a-long-secure-password" });
  t.equal(signIn.status, 200);

  const create = await post("/api/auth/organization/create", { name: "Sunrise Clinic", slug: `sunrise-${Date.now()}` });
  t.equal(create.status, 200, "a cookie-carrying POST without Origin is accepted");
  const clinic = (await create.json()) as { id: string };

  const setActive = await post("/api/auth/organization/set-active", { organizationId: clinic.id });
  t.equal(setActive.status, 200);

  const view = await fetch(`${base}/api/clinic`, { headers: cookies.header() });
  t.equal(view.status, 200);
  t.match((await view.json()) as object, { clinic: { id: clinic.id }, role: "owner" });
  t.ok(view.headers.get("x-request-id"));

  const signOut = await post("/api/auth/sign-out");
  t.equal(signOut.status, 200);
  t.equal((await fetch(`${base}/api/clinic`, { headers: cookies.header() })).status, 401);

  // A browser page of a foreign origin, carrying the cookie, is refused.
  const again = await post("/api/auth/sign-in/email", { email, password: "a-long-secure-password" });
  t.equal(again.status, 200);
  const forged = await fetch(`${base}/api/auth/organization/create`, {
    method: "POST",
    headers: { ...cookies.header(), "Content-Type": "application/json", Origin: "https://evil.example" },
    body: JSON.stringify({ name: "Evil", slug: `evil-${Date.now()}` }),
  });
  t.equal(forged.status, 403);
  t.equal(((await forged.json()) as { code: string }).code, "INVALID_ORIGIN");

  server.child.kill("SIGTERM");
  const [code] = await once(server.child, "exit");
  t.equal(code, 0, "SIGTERM stops the server cleanly");
});

t.test("with PostgreSQL and Redis unreachable, start says which, where, and how to start them", async (t) => {
  const server = startServer({
    DATABASE_URL: "postgres://postgres@127.0.0.1:1/temetro_auth",
    REDIS_URL: "redis://127.0.0.1:2",
  });
  const [code] = await once(server.child, "exit");
  t.equal(code, 1);
  const output = server.output();
  t.match(output, /PostgreSQL is not reachable at 127\.0\.0\.1:1 \(DATABASE_URL\).*docker compose up -d postgres/);
  t.match(output, /Redis is not reachable at 127\.0\.0\.1:2 \(REDIS_URL\).*docker compose up -d redis/);
  t.notMatch(output, /\n\s+at /, "no stack trace");
});

t.test("a bad configuration stops the start naming the variable; the mailer's variables are not checked", async (t) => {
  const server = startServer({
    PORT: "not-a-port",
    NODE_ENV: "production",
    BETTER_AUTH_SECRET: "",
    SMTP_URL: "http://not-smtp.example",
    MAILER_CONCURRENCY: "0",
  });
  const [code] = await once(server.child, "exit");
  t.equal(code, 1);
  t.match(server.output(), /PORT: must be a port number/);
  t.notMatch(server.output(), /SMTP_URL|MAILER_CONCURRENCY/);
});
