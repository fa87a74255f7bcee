/**
 * The one canonical spelling of a request target. Every listener rewrites each request's URL to it
 * before routing (plugins/request-target.ts), so the rate-limit budgets, the hashing admission,
 * Fastify's router and Better Auth (which gets `origin + request.url`) all see the same path: no
 * spelling reaches a route under a path that a rule meant for it does not match.
 *
 * Routes are case-sensitive (Fastify's and Better Auth's routers, and path parameters such as
 * tokens and ids), so case is kept: `/api/auth/SIGN-IN/email` is another path, which no route
 * serves.
 */

export type CanonicalTarget = { url: string } | { refused: string };

/** `?` ends the path; anything after it is the query, kept byte for byte. */
const QUESTION_MARK = 0x3f;

/**
 * What a byte of the path may be: RFC 3986 `pchar` and `/` (PLAIN), plus the bytes that make a
 * path need rewriting (`%`, `\`, and `.` or `/` right after a `/`). Anything else (`;`, which some
 * routers take as a parameter delimiter; `#`; a raw non-ASCII byte) is refused: routers and URL
 * parsers disagree about it, and no client of this service sends it.
 */
const PLAIN = 1;
const PERCENT = 2;
const BACKSLASH = 3;
const DOT = 4;
const SLASH = 5;
const byteKind = new Uint8Array(128);
for (const char of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_~!$&'()*+,=:@") {
  byteKind[char.charCodeAt(0)] = PLAIN;
}
byteKind[0x25] = PERCENT;
byteKind[0x5c] = BACKSLASH;
byteKind[0x2e] = DOT;
byteKind[0x2f] = SLASH;

const NOT_A_PATH = "The request target must be a path (origin-form: /path?query)";

/**
 * The canonical URL of a request target, or why it is refused. A target that is already canonical
 * comes back as the very same string after one pass over its path (the common case: no `%`, `\`,
 * `//`, dot segment or trailing slash), without building a URL object or running a regex.
 */
export function canonicalTarget(target: string): CanonicalTarget {
  if (target.charCodeAt(0) !== 0x2f) return { refused: NOT_A_PATH };
  let previous = 0;
  let needsRewrite = false;
  let end = target.length;
  for (let i = 0; i < target.length; i++) {
    const code = target.charCodeAt(i);
    if (code === QUESTION_MARK) {
      end = i;
      break;
    }
    const kind = code < 128 ? byteKind[code]! : 0;
    if (kind === 0) return { refused: `The request path must not contain ${describe(code)}` };
    if (kind === PERCENT || kind === BACKSLASH || ((kind === DOT || kind === SLASH) && previous === 0x2f)) needsRewrite = true;
    previous = code;
  }
  // A trailing slash names the same resource as none (`/api/clinic/`): one spelling, without it.
  if (!needsRewrite && (end === 1 || previous !== 0x2f)) return { url: target };
  return rewrite(target.slice(0, end), target.slice(end));
}

/** The path of a canonical URL (the query cut off). */
export function pathOf(url: string): string {
  const query = url.indexOf("?");
  return query < 0 ? url : url.slice(0, query);
}

function rewrite(path: string, query: string): CanonicalTarget {
  const segments: string[] = [];
  // Backslashes are slashes, as the URL parser that hands requests to Better Auth reads them.
  for (const raw of path.replace(/\\/g, "/").split("/")) {
    let segment = raw;
    if (segment.includes("%")) {
      const decoded = decodeUnreserved(segment);
      if (typeof decoded !== "string") return decoded;
      segment = decoded;
    }
    // Empty segments (repeated or trailing slashes) and `.` name nothing; `..` climbs, never above the root.
    if (segment === "" || segment === ".") continue;
    if (segment === "..") segments.pop();
    else segments.push(segment);
  }
  return { url: `/${segments.join("/")}${query}` };
}

/**
 * Percent-encodings of unreserved characters (letters, digits, `-._~`) decoded, every other one
 * kept with upper-case hex (RFC 3986 6.2.2). An encoded slash or backslash is refused: decoded it
 * would change where the path leads, kept it is a segment some routers split and others do not.
 */
function decodeUnreserved(segment: string): string | { refused: string } {
  let out = "";
  let from = 0;
  for (let i = segment.indexOf("%"); i >= 0; i = segment.indexOf("%", from)) {
    const high = hexValue(segment.charCodeAt(i + 1));
    const low = hexValue(segment.charCodeAt(i + 2));
    if (high < 0 || low < 0) return { refused: "The request path has a % that is not followed by two hex digits" };
    const byte = high * 16 + low;
    if (byte === 0x2f || byte === 0x5c) return { refused: "The request path must not contain an encoded slash or backslash (%2F, %5C)" };
    out += segment.slice(from, i);
    out += isUnreserved(byte) ? String.fromCharCode(byte) : `%${HEX[high]}${HEX[low]}`;
    from = i + 3;
  }
  return out + segment.slice(from);
}

const HEX = "0123456789ABCDEF";

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x41 && code <= 0x46) return code - 0x37;
  if (code >= 0x61 && code <= 0x66) return code - 0x57;
  return -1;
}

function isUnreserved(byte: number): boolean {
  return (
    (byte >= 0x41 && byte <= 0x5a) ||
    (byte >= 0x61 && byte <= 0x7a) ||
    (byte >= 0x30 && byte <= 0x39) ||
    byte === 0x2d ||
    byte === 0x2e ||
    byte === 0x5f ||
    byte === 0x7e
  );
}

function describe(code: number): string {
  if (code === 0x23) return "#";
  if (code === 0x3b) return "; (a parameter delimiter to some routers)";
  if (code >= 0x21 && code < 0x7f) return String.fromCharCode(code);
  return `the byte 0x${code.toString(16).toUpperCase().padStart(2, "0")} (encode it: %XX)`;
}
