// A connection cut in the very read that completes its start-up (PostgreSQL shutting down as it
// said "ready"): the error arrives before pg-pool has attached its listener. Without one of the
// pool's own from the start, that 'error' is an uncaught exception and ends the process (seen in
// test/resilience/session-lifetime-restart.test.ts under load).
import { createServer, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import t, { type Test } from "tap";
import { createPostgresPool } from "../src/postgres-pool.js";

/** A server that accepts the start-up, says ready and, in the same write, terminates the session as `pg_ctl stop -m fast` does. */
async function serverThatShutsDownAsItAnswers(t: Test) {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.once("data", () => {
      const authenticationOk = Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 0]);
      const readyForQuery = Buffer.from([0x5a, 0, 0, 0, 5, 0x49]);
      const fields = Buffer.from("SFATAL\0VFATAL\0C57P01\0Mterminating connection due to administrator command\0\0", "latin1");
      const header = Buffer.alloc(5);
      header.write("E", 0, "latin1");
      header.writeInt32BE(fields.length + 4, 1);
      socket.end(Buffer.concat([authenticationOk, readyForQuery, header, fields]));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return (server.address() as AddressInfo).port;
}

t.test("a connection terminated in the same read as its start-up completes is logged, not an uncaught exception", async (t) => {
  const port = await serverThatShutsDownAsItAnswers(t);
  const warnings: string[] = [];
  const pool = createPostgresPool(
    { connectionString: `postgres://postgres@127.0.0.1:${port}/any`, max: 2, connectionTimeoutMillis: 2000, statementTimeoutMs: 0 },
    { warn: (fields: object, message: string) => warnings.push(`${message}: ${(fields as { err?: string }).err}`) },
  );
  t.teardown(() => pool.end().catch(() => {}));
  const uncaught: Error[] = [];
  const onUncaught = (error: Error) => uncaught.push(error);
  // tap reports uncaught exceptions as failures of their own; listening here lets the test say what it saw.
  process.prependListener("uncaughtException", onUncaught);
  t.teardown(() => process.removeListener("uncaughtException", onUncaught));
  const client = await pool.connect().catch((error: Error) => error);
  if (!(client instanceof Error)) {
    await client.query("SELECT 1").catch(() => {});
    client.release(true);
  }
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.same(uncaught.map((error) => error.message), [], "no uncaught exception");
  t.match(warnings.join("\n"), /terminating connection due to administrator command/, "the cut is logged");
});
