// Generated requests for a route: valid-ish shapes from its schema, and what an attacker sends
// instead (wrong types, odd Unicode, huge strings, raw bytes, odd headers).
import fc from "fast-check";
import type { FuzzRoute, JsonSchema } from "./routes.js";

/**
 * Values the app knows (ids, emails, tokens of the fixtures' accounts, the test password), looked
 * up when a request is generated: a persona recreated mid-run lends its new ids.
 */
export type KnownValues = Record<string, string>;

/** Where a request's cookie or credentials come from; resolved against a persona when sent. */
export const cookieChoices = ["persona", "none", "forged", "garbage", "persona-and-junk", "persona-twice"] as const;
export const authorizationChoices = ["none", "internal-token", "persona-bearer", "wrong-bearer", "basic", "empty-bearer", "garbage"] as const;

export interface GeneratedRequest {
  method: string;
  /** Path and query, percent-encoded as a client would send them (or deliberately not). */
  url: string;
  contentType: string | undefined;
  payload: string | Buffer | undefined;
  cookie: (typeof cookieChoices)[number];
  authorization: (typeof authorizationChoices)[number];
  headers: Record<string, string>;
  /** Sent over a real socket through Node's HTTP parser, rather than injected. */
  overSocket: boolean;
}

const allMethods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/** Pieces that break naive code: NUL, lone surrogates, bidi overrides, emoji, look-alikes, syntax. */
const oddPieces = [
  "\u0000", "\ud800", "\udfff", "a\udc00b", "\u202e", "\u202d", "\u2066", "\u200b", "\ufeff", "\uffff", "\ufffd",
  "😀", "👩🏽‍⚕️", "e\u0301", "İ", "ß", "ﬀ", "Ａ", "\r\n", "\t", "\u0085", "\u2028", "%00", "%", "%zz", "../", "..\\",
  "<script>", "' OR 1=1 --", "${7*7}", "{{7*7}}", "__proto__", "constructor", "null", "NaN", "-1", "1e308", " ", "",
  "\\", '"', "/", "?", "#", "&", "=", ";", ",", "*", "@", ":",
];

const hugeText = fc.constantFrom(1_000, 20_000, 70_000).map((length) => "x".repeat(length));

/** Text with something odd in it; now and then huge. */
export const oddText: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.array(fc.oneof(fc.constantFrom(...oddPieces), fc.string({ unit: "binary", maxLength: 6 })), { minLength: 1, maxLength: 5 }).map((parts) => parts.join("")) },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: "grapheme", maxLength: 20 }) },
  { weight: 1, arbitrary: hugeText },
);

const knownValue = (known: KnownValues) => fc.constantFrom(...Object.keys(known)).map((key) => known[key]!);

/** A string a field might hold: one the app knows, a plausible one, or an odd one. */
const textFor = (known: KnownValues) =>
  fc.oneof(
    { weight: 3, arbitrary: knownValue(known) },
    { weight: 2, arbitrary: fc.string({ maxLength: 24 }) },
    { weight: 1, arbitrary: fc.emailAddress() },
    { weight: 1, arbitrary: fc.uuid() },
    { weight: 2, arbitrary: oddText },
  );

/** Anything but what was asked for. */
const wrongValue = (known: KnownValues): fc.Arbitrary<unknown> =>
  fc.oneof(
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double(),
    fc.constant({}),
    fc.constant([]),
    fc.array(textFor(known), { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }),
    textFor(known),
  );

const MAX_DEPTH = 4;

/** A value for a JSON schema: mostly of the right shape (with known and odd strings in it), sometimes wrong. */
export function fromSchema(schema: JsonSchema | undefined, known: KnownValues, depth = 0): fc.Arbitrary<unknown> {
  if (!schema || depth > MAX_DEPTH) return wrongValue(known);
  const shaped = shapedBy(schema, known, depth);
  return fc.oneof({ weight: 5, arbitrary: shaped }, { weight: 1, arbitrary: wrongValue(known) });
}

function shapedBy(schema: JsonSchema, known: KnownValues, depth: number): fc.Arbitrary<unknown> {
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return fc.constantFrom(...(schema.enum as unknown[]));
  if ("const" in schema) return fc.constant(schema.const);
  for (const key of ["anyOf", "oneOf"] as const) {
    const options = schema[key];
    if (Array.isArray(options) && options.length > 0) return fc.oneof(...options.map((option) => fromSchema(option as JsonSchema, known, depth + 1)));
  }
  if (Array.isArray(schema.allOf) && schema.allOf.length > 0) {
    return fc.tuple(...schema.allOf.map((part) => shapedBy(part as JsonSchema, known, depth + 1))).map((parts) =>
      Object.assign({}, ...parts.filter((part) => part && typeof part === "object")),
    );
  }
  const type = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string | undefined];
  return fc.oneof(...type.map((one) => shapedAs(one, schema, known, depth)));
}

function shapedAs(type: string | undefined, schema: JsonSchema, known: KnownValues, depth: number): fc.Arbitrary<unknown> {
  switch (type) {
    case "string": {
      const minLength = typeof schema.minLength === "number" ? schema.minLength : 0;
      const maxLength = typeof schema.maxLength === "number" ? Math.min(schema.maxLength, 40) : 40;
      const plausible = schema.format === "email" ? fc.emailAddress() : fc.string({ minLength, maxLength: Math.max(minLength, maxLength) });
      return fc.oneof(plausible, textFor(known));
    }
    case "integer":
      return fc.oneof(fc.integer({ min: -1, max: 1000 }), fc.integer());
    case "number":
      return fc.oneof(fc.integer({ min: -1, max: 1000 }), fc.double());
    case "boolean":
      return fc.boolean();
    case "null":
      return fc.constant(null);
    case "array":
      return fc.array(fromSchema(schema.items as JsonSchema | undefined, known, depth + 1), { maxLength: 3 });
    case "object":
      return objectShapedBy(schema, known, depth);
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

function objectShapedBy(schema: JsonSchema, known: KnownValues, depth: number): fc.Arbitrary<unknown> {
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  const required = Array.isArray(schema.required) ? (schema.required as string[]) : [];
  const model = Object.fromEntries(Object.entries(properties).map(([name, property]) => [name, fromSchema(property, known, depth + 1)]));
  const requiredKeys = required.filter((name) => name in model);
  // Only what is required (an empty object when nothing is) is an edge of its own, more often than chance.
  const bare = fc.record(Object.fromEntries(requiredKeys.map((name) => [name, model[name]!])));
  const record = fc.oneof({ weight: 3, arbitrary: fc.record(model, { requiredKeys }) }, { weight: 1, arbitrary: bare });
  // Now and then a field nobody declared.
  const extra = fc.option(fc.dictionary(fc.oneof(fc.string({ maxLength: 10 }), fc.constantFrom("id", "role", "userId", "emailVerified")), wrongValue(known), { maxKeys: 2 }), { freq: 4 });
  return fc.tuple(record, extra).map(([fields, more]) => ({ ...more, ...(fields as object) }));
}

/** JSON texts that are not an object, or barely JSON. */
const oddJsonTexts = [
  "null", "[]", "[{}]", "7", "-0", "1e999", '"text"', "true", "", " ", "{", "{}}", '{"a":1,}', "{'a':1}",
  '{"__proto__":{"polluted":true}}', '{"constructor":{"prototype":{"polluted":true}}}', '{"a":1,"a":"dup"}',
  '{"email":"\\u0000"}', '{"name":"\\ud800"}', "\ufeff{}", '{"x":' + "[".repeat(5000) + "]".repeat(5000) + "}",
];

const jsonContentTypes = [
  "application/json", "application/json; charset=utf-8", "APPLICATION/JSON", "application/json; charset=utf-16",
  "application/json;", "application/vnd.api+json", "application/merge-patch+json", "application/json, text/plain",
];
const otherContentTypes = [
  "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml", "*/*",
  "application/octet-stream", "", ";", "application/json\u00ff", "text/html; charset=\"",
];
const anyContentType = fc.oneof(fc.constantFrom(...jsonContentTypes), fc.constantFrom(...otherContentTypes), fc.constant(undefined));

/** A body: JSON of the route's shape (mostly), form-encoded, JSON of another shape, raw bytes, or none. */
function bodyFor(route: FuzzRoute, known: KnownValues): fc.Arbitrary<{ contentType: string | undefined; payload: string | Buffer | undefined }> {
  const shaped = fromSchema(route.body ?? { type: "object" }, known);
  return fc.oneof(
    { weight: 6, arbitrary: fc.record({ contentType: fc.constantFrom(...jsonContentTypes), payload: shaped.map((value) => JSON.stringify(value) ?? "") }) },
    { weight: 1, arbitrary: fc.record({ contentType: fc.constant("application/x-www-form-urlencoded"), payload: shaped.map(formEncoded) }) },
    { weight: 2, arbitrary: fc.record({ contentType: anyContentType, payload: fc.constantFrom(...oddJsonTexts) }) },
    {
      weight: 1,
      arbitrary: fc.record({
        contentType: anyContentType,
        payload: fc.oneof(oddText, fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes))),
      }),
    },
    { weight: 1, arbitrary: fc.record({ contentType: anyContentType, payload: fc.constant(undefined) }) },
  );
}

function formEncoded(value: unknown): string {
  if (!value || typeof value !== "object" || Array.isArray(value)) return encodeLoosely(String(value));
  return Object.entries(value)
    .map(([name, field]) => `${encodeLoosely(name)}=${encodeLoosely(typeof field === "string" ? field : JSON.stringify(field) ?? "")}`)
    .join("&");
}

const loneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Percent-encodes like a client; a lone surrogate (which has no UTF-8) as the bytes of its code unit. */
export function encodeLoosely(text: string): string {
  let encoded = "";
  let from = 0;
  for (const match of text.matchAll(loneSurrogate)) {
    const unit = match[0].charCodeAt(0);
    const bytes = [0xe0 | (unit >> 12), 0x80 | ((unit >> 6) & 0x3f), 0x80 | (unit & 0x3f)];
    encoded += encodeURIComponent(text.slice(from, match.index)) + bytes.map((byte) => `%${byte.toString(16).toUpperCase()}`).join("");
    from = match.index + 1;
  }
  return encoded + encodeURIComponent(text.slice(from));
}

/** Raw pieces of a URL that are not what encodeURIComponent would make. */
const rawUrlPieces = ["%00", "%", "%zz", "%E0%A4%A", "%ED%A0%80", "%C0%AE", "..", "%2e%2e", ".", "%2F", "a/b", ";x=1", "%20", "+", "~"];

const urlText = (known: KnownValues) =>
  fc.oneof({ weight: 4, arbitrary: textFor(known).map(encodeLoosely) }, { weight: 1, arbitrary: fc.constantFrom(...rawUrlPieces) });

/** The route's path with its parameters filled (and a wildcard's tail). */
function pathFor(route: FuzzRoute, known: KnownValues): fc.Arbitrary<string> {
  const segments = route.path.split("/");
  return fc.tuple(...segments.map((segment) => {
    if (segment.startsWith(":")) return urlText(known);
    if (segment === "*") return fc.array(fc.oneof(fc.constantFrom("sign-in", "email", "organization", "ok", "."), urlText(known)), { maxLength: 3 }).map((tail) => tail.join("/"));
    return fc.constant(segment);
  })).map((parts) => parts.join("/") || "/");
}

/** A query string: the route's own parameters and others, repeated or malformed now and then. */
function queryFor(route: FuzzRoute, known: KnownValues): fc.Arbitrary<string> {
  const declared = Object.keys(((route.query?.properties ?? {}) as Record<string, unknown>));
  const name = declared.length > 0 ? fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...declared) }, { weight: 1, arbitrary: urlText(known) }) : urlText(known);
  const pair = fc.oneof(
    { weight: 6, arbitrary: fc.tuple(name, urlText(known)).map(([key, value]) => `${key}=${value}`) },
    { weight: 1, arbitrary: name.map((key) => `${key}[]=1&${key}[]=2`) },
    { weight: 1, arbitrary: name.map((key) => `${key}[a]=1`) },
    { weight: 1, arbitrary: name },
  );
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant("") },
    { weight: 4, arbitrary: fc.array(pair, { minLength: 1, maxLength: 4 }).map((pairs) => `?${pairs.join("&")}`) },
  );
}

/** Header text as it can travel over HTTP/1.1 (visible Latin-1 and spaces). */
const headerText = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom("%00", "\u00ff\u00fe", "a".repeat(4000), "null", "*", "", "  x  "),
);

const originHeader = fc.oneof(
  fc.constant(undefined),
  fc.constantFrom("http://localhost:3000", "http://localhost:4000", "https://evil.example", "null", "http://localhost:3000.evil.example", "file://", "http://[::1"),
  headerText,
);

const extraHeaders = fc.dictionary(
  fc.constantFrom("x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-request-id", "referer", "sec-fetch-site", "accept", "accept-language", "user-agent", "x-real-ip", "host"),
  headerText,
  { maxKeys: 3 },
);

/** One of the choices, some more often than the others (weight 1 unless given). */
function weighted<T extends string>(choices: readonly T[], weights: Partial<Record<T, number>>): fc.Arbitrary<T> {
  return fc.oneof(...choices.map((choice) => ({ weight: weights[choice] ?? 1, arbitrary: fc.constant(choice) })));
}

export function requestFor(route: FuzzRoute, known: KnownValues): fc.Arbitrary<GeneratedRequest> {
  return fc
    .record({
      method: fc.oneof({ weight: 9, arbitrary: fc.constantFrom(...route.methods) }, { weight: 1, arbitrary: fc.constantFrom(...allMethods) }),
      path: pathFor(route, known),
      query: queryFor(route, known),
      body: bodyFor(route, known),
      // Mostly the persona's own cookie and no Authorization (internal callers send the token):
      // what reaches past the sign-in checks is where most handlers are.
      cookie: weighted(cookieChoices, { persona: 10 }),
      authorization: weighted(authorizationChoices, { none: 6, "internal-token": 4 }),
      origin: originHeader,
      extra: extraHeaders,
      overSocket: fc.nat(9).map((draw) => draw === 0),
    })
    .map(({ method, path, query, body, cookie, authorization, origin, extra, overSocket }) => ({
      method,
      url: `${path}${query}`,
      contentType: body.contentType,
      payload: body.payload,
      cookie,
      authorization,
      headers: { ...extra, ...(origin === undefined ? {} : { origin }) },
      overSocket,
    }));
}
