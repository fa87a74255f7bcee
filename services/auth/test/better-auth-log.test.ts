// Better Auth's log lines through the service's logger: some routes log a caught error object as
// the message (list-sessions on a PostgreSQL restart); that must neither throw (a 500) nor hide
// the database failure from the adapter (which answers 503 for it).
import t from "tap";
import { captureLogs } from "@temetro/test-support/captured-logs";
import { betterAuthLogger } from "../src/auth/better-auth-log.js";
import { watchDependencyFailures } from "../src/auth/dependency-failures.js";
import { createServiceLogger } from "../src/logger.js";

function logger() {
  const { destination, logs } = captureLogs();
  const log = createServiceLogger({ logLevel: "info" }, destination);
  return { betterAuth: betterAuthLogger(log, "info"), logs };
}

t.test("an error logged as the message is written by its message, and a database failure among it is noted", async (t) => {
  const { betterAuth, logs } = logger();
  const cut = Object.assign(new Error("Connection terminated unexpectedly"), { code: undefined });
  const { dependencyFailed } = await watchDependencyFailures(async () => {
    betterAuth.log!("error", cut as unknown as string);
  });
  t.equal(dependencyFailed, true, "the adapter hears of the failure (503, not 500)");
  t.match(logs.lines.at(-1), { level: 50, msg: "Error: Connection terminated unexpectedly" });
});

t.test("a string message and a failure among the arguments are handled as before", async (t) => {
  const { betterAuth, logs } = logger();
  const { dependencyFailed } = await watchDependencyFailures(async () => {
    betterAuth.log!("error", "Failed to create user", Object.assign(new Error("terminating connection"), { code: "57P01" }));
  });
  t.equal(dependencyFailed, true);
  t.match(logs.lines.at(-1), { level: 50, msg: "Failed to create user" });
});
