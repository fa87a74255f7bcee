// Hostile input cannot grow the heap: a valid session cookie sent with other cookies padded to
// 15 KB, different on every request, leaves nothing behind (issue 10, finding 7: each such request
// used to keep its whole Cookie header, 16.5 KB, up to 50,000 of them).
import { randomBytes } from "node:crypto";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import t from "tap";
import { buildInternalApp } from "../src/internal-app.js";
import { buildTestApp } from "@temetro/test-support/auth-app";
import { signUp } from "@temetro/test-support/auth-requests";
import { waitUntil } from "@temetro/test-support/polling";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

function heapAfterGc(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

const REQUESTS = 3000;
const PADDING = 15 * 1024;
// Today 3,000 such headers would keep about 46 MB; what is kept now does not depend on the padding.
const ALLOWED_GROWTH = 8 * 1024 * 1024;

t.test("thousands of requests with varied 15 KB cookies beside a valid session leave the heap flat", async (t) => {
  const { app } = await buildTestApp(t);
  const internal = await buildInternalApp(app);
  t.teardown(() => internal.close());
  const { cookie } = await signUp(app);
  await waitUntil(() => app.sessions.directory.isCaching, "the session cache to be on");

  const padded = () => `${cookie}; tracking=${randomBytes(PADDING / 2).toString("hex")}`;
  const send = async (count: number) => {
    for (let i = 0; i < count; i++) {
      const header = padded();
      // The three paths that read the session cookie: get-session, the /api guard, introspection.
      const path = i % 3;
      const status =
        path === 0
          ? (await app.inject({ method: "GET", url: "/api/auth/get-session", headers: { cookie: header } })).statusCode
          : path === 1
            ? (await app.inject({ method: "GET", url: "/api/clinic", headers: { cookie: header } })).statusCode
            : (await internal.inject({ method: "POST", url: "/internal/v1/introspect", payload: { cookie: header } })).statusCode;
      if (status !== (path === 1 ? 403 : 200)) throw new Error(`unexpected ${status} on path ${path}`);
    }
  };

  await send(300); // warm: code paths compiled, caches holding the one session
  const before = heapAfterGc();
  await send(REQUESTS);
  const after = heapAfterGc();
  const growth = after - before;
  t.comment(`heap after GC: ${(before / 2 ** 20).toFixed(1)} MB before, ${(after / 2 ** 20).toFixed(1)} MB after ${REQUESTS} requests`);
  t.ok(growth < ALLOWED_GROWTH, `heap grew ${(growth / 2 ** 20).toFixed(1)} MB (allowed ${ALLOWED_GROWTH / 2 ** 20} MB)`);
});

t.test("the session caches are bounded in bytes", async (t) => {
  const { app } = await buildTestApp(t);
  await waitUntil(() => app.sessions.directory.isCaching, "the session cache to be on");
  // Valid-looking but unknown tokens (introspection's `token` field): each answer is a kept "no".
  const internal = await buildInternalApp(app);
  t.teardown(() => internal.close());
  const answers = new Set<boolean>();
  for (let i = 0; i < 200; i++) {
    const token = randomBytes(250).toString("hex");
    answers.add((await internal.inject({ method: "POST", url: "/internal/v1/introspect", payload: { token } })).json().active);
  }
  t.same([...answers], [false], "every unknown token is inactive");
  const { entries, bytes } = app.sessions.directory.footprint;
  t.equal(entries, 200, "kept");
  t.ok(bytes >= 200 * 1000, "and charged for their length");
});
