// The raw argon2id rate of this machine: the service's own hash function and parameters, with as
// many hashes in flight as the service allows (PASSWORD_HASH_CONCURRENCY), and nothing else
// running in the process. Prints `{ "rate": hashes per second }`.
import { hashPassword } from "../../src/sign-in/password-hasher.js";

const seconds = Number(process.env.BENCH_DURATION ?? 6);
const inFlight = Number(process.env.PASSWORD_HASH_CONCURRENCY ?? 8);

await hashPassword("warm-up-password"); // load the native module
let done = 0;
const deadline = Date.now() + seconds * 1000;
const started = process.hrtime.bigint();
await Promise.all(
  Array.from({ length: inFlight }, async () => {
    while (Date.now() < deadline) {
      await hashPassword("a-long-secure-password");
      done += 1;
    }
  }),
);
const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
console.log(JSON.stringify({ rate: done / elapsed }));
