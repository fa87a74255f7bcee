import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * The session token inside Better Auth's signed session cookie, or null when the cookie is
 * missing or its signature does not verify. Better Auth (better-call) writes
 * `encodeURIComponent(token + "." + base64(HMAC-SHA256(secret, token)))`; checking it here takes a
 * few microseconds and no I/O, so forged cookies never reach the database.
 */
export function sessionTokenFromCookie(cookieHeader: string | undefined, cookieName: string, secret: string): string | null {
  if (!cookieHeader) return null;
  const raw = cookieValue(cookieHeader, cookieName);
  if (!raw) return null;
  let value: string;
  try {
    value = decodeURIComponent(raw);
  } catch {
    return null;
  }
  const dot = value.lastIndexOf(".");
  if (dot < 1) return null;
  const token = value.slice(0, dot);
  const signature = Buffer.from(value.slice(dot + 1), "base64");
  const expected = createHmac("sha256", secret).update(token).digest();
  if (signature.length !== expected.length || !timingSafeEqual(signature, expected)) return null;
  return token;
}

function cookieValue(header: string, name: string): string | null {
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq === -1) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}
