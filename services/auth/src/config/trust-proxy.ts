import { isIP } from "node:net";
import * as z from "zod";

/** Names Fastify's proxy-addr understands for whole address ranges. */
const proxyRangeNames = new Set(["loopback", "linklocal", "uniquelocal"]);

function isProxyAddress(entry: string): boolean {
  if (proxyRangeNames.has(entry)) return true;
  const [address, prefix, ...rest] = entry.split("/");
  const family = isIP(address ?? "");
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

/**
 * TRUST_PROXY: which hops in front of the service may say who the client is (X-Forwarded-For).
 * false (nobody), a hop count, or the proxies' addresses / CIDR ranges. `true` is refused: it
 * trusts whatever a client writes, so every client could choose its own address and escape limits.
 */
const trustProxy = z.string().transform((value, context): false | number | string[] => {
  const text = value.trim();
  if (text === "false" || text === "0") return false;
  if (/^\d+$/.test(text)) {
    const hops = Number(text);
    if (hops <= 20) return hops;
  }
  const entries = text
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
  if (text === "true" || entries.length === 0 || !entries.every(isProxyAddress)) {
    context.addIssue({
      code: "custom",
      message:
        "must be false, a hop count (1-20) or the proxies' addresses/CIDR ranges, comma-separated " +
        "(true is refused: it would let any client choose its own address)",
    });
    return z.NEVER;
  }
  return entries;
});

export const trustProxySettings = z.object({ TRUST_PROXY: trustProxy.default(false) }).transform((vars) => ({
  /** Fastify's trustProxy: false, a hop count, or the proxies' addresses. Never `true`. */
  trustProxy: vars.TRUST_PROXY,
}));
