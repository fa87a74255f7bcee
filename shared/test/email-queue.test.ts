import t from "tap";
import { emailIdempotencyKey, type EmailJob } from "../src/email-queue.js";

const job: EmailJob = { kind: "verify-email", to: "a@example.com", name: "A", url: "http://x/verify?token=1" };

t.test("the idempotency key is stable for one email and differs between emails", async (t) => {
  t.equal(emailIdempotencyKey(job), emailIdempotencyKey({ ...job }));
  t.not(emailIdempotencyKey(job), emailIdempotencyKey({ ...job, url: "http://x/verify?token=2" }));
  t.not(emailIdempotencyKey(job), emailIdempotencyKey({ ...job, kind: "reset-password" }));
});

t.test("the key is a valid BullMQ job id: no ':' and not all digits", async (t) => {
  const key = emailIdempotencyKey(job);
  t.notMatch(key, /:/);
  t.notMatch(key, /^\d+$/);
  t.match(key, /^verify-email-[0-9a-f]{40}$/);
});
