// The mailer's PostgreSQL (where it confirms deliveries) through a real PgBouncer in transaction
// pooling mode: its statement timeout must not make PgBouncer refuse the connection.
import t from "tap";
import { buildTestApp, testDatabaseUrl } from "@temetro/test-support/auth-app";
import { signUp } from "@temetro/test-support/auth-requests";
import { OwnPgBouncer } from "@temetro/test-support/pgbouncer";
import { waitUntil } from "@temetro/test-support/polling";
import { startTestMailer } from "./fixtures/mailer.js";

t.test("a mailer whose DATABASE_URL leads through PgBouncer confirms its deliveries there", async (t) => {
  const { app, config } = await buildTestApp(t);
  const database = decodeURIComponent(new URL(testDatabaseUrl).pathname.slice(1));
  const bouncer = await OwnPgBouncer.start(t, { database, poolSize: 1 });
  const { mailer, sink, logText } = await startTestMailer(t, config, { overrides: { databaseUrl: bouncer.url } });

  const user = await signUp(app);
  await waitUntil(() => mailer.counts().sent === 1, "the verification email to be delivered");
  await sink.allRecorded();
  t.equal(sink.to(user.email).length, 1, "delivered once");
  const { rows } = await app.pg.query<{ delivered: boolean }>(
    "SELECT delivered_at IS NOT NULL AS delivered FROM email_outbox WHERE queue_prefix = $1 AND NOT decoy",
    [config.redisPrefix],
  );
  // The relay deletes a confirmed row: either way, none is left unconfirmed.
  t.same(rows.filter((row) => !row.delivered), [], "no delivery left unconfirmed in PostgreSQL");
  t.notMatch(logText(), /PostgreSQL unreachable/, "the mailer never fell back to its Redis marks");
  t.match(logText(), /refuses startup parameters \(PgBouncer\)/, "it connected without its statement timeout, and said so");
  const stats = await bouncer.show("SHOW STATS");
  t.ok(Number(stats[0]?.total_xact_count) >= 2, "its check and its confirmation went through PgBouncer");
});
