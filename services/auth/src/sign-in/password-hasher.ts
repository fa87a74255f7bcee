import { ErrorCode } from "../errors.js";
import { AsyncLocalStorage } from "node:async_hooks";
import { scrypt, timingSafeEqual } from "node:crypto";
import { hash as argon2Hash, verify as argon2Verify } from "@node-rs/argon2";
import { APIError } from "better-auth/api";

/**
 * argon2id at OWASP's minimum: 19 MiB, 2 passes, 1 lane. @node-rs/argon2 runs it on libuv's
 * threadpool, off the event loop, and writes a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`).
 */
export const argon2Options = {
  // Algorithm.Argon2id; the package exports a const enum, which isolated modules cannot read.
  algorithm: 2,
  memoryCost: 19 * 1024,
  timeCost: 2,
  parallelism: 1,
} as const;

/**
 * Passwords are compared as NFKC-normalised text (NIST SP 800-63B), as Better Auth's scrypt did:
 * "é" typed as one code point or as e + accent is the same password.
 */
export function hashPassword(password: string): Promise<string> {
  return argon2Hash(password.normalize("NFKC"), argon2Options);
}

/**
 * Verifies against an argon2 PHC string, or against Better Auth's default format
 * (`<salt hex>:<scrypt key hex>`), which databases of earlier temetro installs hold.
 * Anything else never matches.
 */
export async function verifyPassword({ hash, password }: { hash: string; password: string }): Promise<boolean> {
  if (hash.startsWith("$argon2")) {
    try {
      return await argon2Verify(hash, password.normalize("NFKC"));
    } catch {
      return false;
    }
  }
  const legacy = legacyScryptHash.exec(hash);
  if (legacy) return verifyLegacyScrypt(legacy[1]!, legacy[2]!, password);
  return false;
}

// Better Auth's scrypt parameters (N=16384, r=16, p=1, 64-byte key); the salt is used as its hex text.
const legacyScryptHash = /^([0-9a-f]{32}):([0-9a-f]{128})$/;
const legacyScrypt = { N: 16384, r: 16, p: 1, keyLength: 64 };

function verifyLegacyScrypt(salt: string, expectedHex: string, password: string): Promise<boolean> {
  const { N, r, p, keyLength } = legacyScrypt;
  return new Promise((resolve, reject) => {
    scrypt(password.normalize("NFKC"), salt, keyLength, { N, r, p, maxmem: 256 * N * r }, (error, key) => {
      if (error) return reject(error);
      // Constant time: Better Auth's own verify compares hex strings with ===.
      resolve(timingSafeEqual(key, Buffer.from(expectedHex, "hex")));
    });
  });
}

/** Seconds a client is asked to wait when every hashing slot is taken. */
export const HASHING_BUSY_RETRY_AFTER_SECONDS = 1;

/**
 * Password hashing with a bound on how many hashes (and verifications) run at once in this
 * process. Hashing is the costliest thing the service does: without a bound, a burst of sign-ins
 * queues on libuv's threadpool without limit, and every request behind it (and every DNS lookup)
 * waits. Past the bound the request is refused at once with 503 and `Retry-After`.
 *
 * A request that will hash takes its slot when it arrives (`admit`), before it reads the database:
 * a request that cannot have one is refused in microseconds instead of after its lookups, and one
 * that was admitted is never refused halfway (its hashes run in the slot it holds, one at a time).
 * Hashes outside an admitted request take a slot of their own at the moment they run.
 */
export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(input: { hash: string; password: string }): Promise<boolean>;
  /**
   * Runs `work` holding one hashing slot, or answers `undefined` at once when every slot is taken.
   * Hashes that `work` starts (through this hasher) run in that slot.
   */
  admit<T>(work: () => Promise<T>): Promise<{ value: T } | undefined>;
  /** Slots held now, by admitted requests and by hashes running outside one. */
  readonly running: number;
  /** Slots free now. */
  readonly available: number;
  /** Counts a request refused before it asked for a slot (the early check at arrival). */
  noteRefused(): void;
  /** Hashes and verifications finished since start: what a test reads to see that none ran. */
  readonly completed: number;
  /** Requests and hashes refused because every slot was taken. */
  readonly refused: number;
}

/** The error Better Auth turns into the 503 answer (its status, code and Retry-After). */
export function hashingBusyError(): APIError {
  return new APIError(
    "SERVICE_UNAVAILABLE",
    { message: HASHING_BUSY_MESSAGE, code: ErrorCode.SERVICE_UNAVAILABLE },
    { "Retry-After": String(HASHING_BUSY_RETRY_AFTER_SECONDS) },
  );
}

export const HASHING_BUSY_MESSAGE = "Too many sign-ins are being checked right now; retry shortly";

export function createPasswordHasher(
  maxConcurrent: number,
  /** Told how long each hash or verification took (the metrics histogram). */
  observe?: (operation: "hash" | "verify", seconds: number) => void,
): PasswordHasher {
  const state = { running: 0, completed: 0, refused: 0 };
  // The slot of the admitted request the current async context belongs to.
  const admitted = new AsyncLocalStorage<{ hashing: Promise<unknown> }>();

  async function timed<T>(operation: "hash" | "verify", work: () => Promise<T>): Promise<T> {
    const started = process.hrtime.bigint();
    try {
      return await work();
    } finally {
      state.completed += 1;
      observe?.(operation, Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  async function withSlot<T>(operation: "hash" | "verify", work: () => Promise<T>): Promise<T> {
    const slot = admitted.getStore();
    if (slot) {
      // One slot, one hash at a time: a second hash of the same request waits for the first.
      const turn = slot.hashing.then(() => timed(operation, work));
      slot.hashing = turn.catch(() => {});
      return turn;
    }
    if (state.running >= maxConcurrent) {
      state.refused += 1;
      // An APIError, so Better Auth answers with this status and header instead of a bare 500.
      throw hashingBusyError();
    }
    state.running += 1;
    try {
      return await timed(operation, work);
    } finally {
      state.running -= 1;
    }
  }

  return {
    hash: (password) => withSlot("hash", () => hashPassword(password)),
    verify: (input) => withSlot("verify", () => verifyPassword(input)),
    async admit(work) {
      if (state.running >= maxConcurrent) {
        state.refused += 1;
        return undefined;
      }
      state.running += 1;
      try {
        return { value: await admitted.run({ hashing: Promise.resolve() }, work) };
      } finally {
        state.running -= 1;
      }
    },
    get running() {
      return state.running;
    },
    get available() {
      return Math.max(0, maxConcurrent - state.running);
    },
    noteRefused() {
      state.refused += 1;
    },
    get completed() {
      return state.completed;
    },
    get refused() {
      return state.refused;
    },
  };
}
