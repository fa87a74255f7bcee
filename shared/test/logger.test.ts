import { Writable } from "node:stream";
import t from "tap";
import { createLogger, redactUrl } from "../src/logger.js";

t.test("redactUrl hides tokens in paths and queries, keeps the rest", async (t) => {
  t.equal(redactUrl("/api/auth/verify-email?%74oken=secret1&x=1"), "/api/auth/verify-email?%74oken=[redacted]&x=1", "an encoded key is judged decoded");
  t.equal(redactUrl("/api/auth/get-invitation?%69d=secret2"), "/api/auth/get-invitation?%69d=[redacted]");
  t.equal(redactUrl("/x?%E0%A4%A=1"), "/x?%E0%A4%A=1", "an undecodable key is kept as sent");
  t.equal(redactUrl("/api/auth/reset-password/abc123?callbackURL=http://x/reset"), "/api/auth/reset-password/[redacted]?callbackURL=http://x/reset");
  t.equal(redactUrl("/api/auth/verify-email?token=eyJhbGc&callbackURL=%2F"), "/api/auth/verify-email?token=[redacted]&callbackURL=%2F");
  t.equal(redactUrl("/api/auth/organization/get-invitation?id=inv123"), "/api/auth/organization/get-invitation?id=[redacted]");
  t.equal(redactUrl("/accept-invitation?invitationId=inv123"), "/accept-invitation?invitationId=[redacted]");
  t.equal(redactUrl("/api/clinic"), "/api/clinic");
  t.equal(redactUrl("/api/auth/get-session?disableCookieCache=true"), "/api/auth/get-session?disableCookieCache=true");
});

t.test("the logger redacts passwords, tokens, cookies and authorization wherever they sit", async (t) => {
  const lines: string[] = [];
  const logger = createLogger(
    new Writable({
      write(chunk, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    }),
    { name: "test", level: "info" },
  );
  logger.info({ password: "hunter2-hunter2", body: { newPassword: "n3w-s3cret", token: "tok-123" } }, "one");
  logger.info({ req: { headers: { cookie: "session=abc", authorization: "Bearer xyz" } } }, "two");
  const text = lines.join("");
  for (const secret of ["hunter2-hunter2", "n3w-s3cret", "tok-123", "session=abc", "Bearer xyz"]) {
    t.notOk(text.includes(secret), secret);
  }
  t.equal(text.match(/\[redacted\]/g)?.length, 5);
});
