import { scrypt, timingSafeEqual } from "node:crypto";
import { hash as argon2Hash, verify as argon2Verify } from "@node-rs/argon2";

/** Password length bounds of the service's policy (no composition rules, as NIST SP 800-63B advises). */
export const MIN_PASSWORD_LENGTH = 12;
export const MAX_PASSWORD_LENGTH = 128;

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
