// The scale run's HTTP client: every request it sends, timed and recorded, from a client address of
// its choosing (X-Forwarded-For, which the replicas trust from loopback only, as behind an ingress).
import type { Replica } from "../resilience/fixtures/replica.js";

export type Operation =
  | "seed"
  | "sign-up"
  | "sign-in"
  | "get-session"
  | "introspect"
  | "invitation"
  | "reset"
  | "limit-probe"
  | "sign-out"
  | "revoked-get-session"
  | "revoked-introspect";

export interface Answer {
  op: Operation;
  replica: string;
  /** HTTP status, or 0 without an answer (refused, reset, or nothing within REQUEST_TIMEOUT_MS). */
  status: number;
  ms: number;
}

export interface Reply {
  status: number;
  json: unknown;
  /** The cookies the answer set, as a Cookie header. */
  cookie: string;
}

const REQUEST_TIMEOUT_MS = 30_000;

/** A random address in 10.0.0.0/8: each client of the load its own, as real clinics' staff are. */
export const randomAddress = () => `10.${[0, 0, 0].map(() => Math.floor(Math.random() * 256)).join(".")}`;

export class ScaleClient {
  readonly answers: Answer[] = [];

  constructor(
    private readonly origin: string,
    private readonly internalToken: string,
  ) {}

  async send(
    replica: Replica,
    op: Operation,
    path: string,
    { body, cookie, method = body === undefined ? "GET" : "POST", internal = false, address = randomAddress() }: RequestOptions = {},
  ): Promise<Reply> {
    const headers: Record<string, string> = { origin: this.origin, "x-forwarded-for": address };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (cookie) headers.cookie = cookie;
    if (internal && this.internalToken) headers.authorization = `Bearer ${this.internalToken}`;
    const started = performance.now();
    const reply: Reply = { status: 0, json: undefined, cookie: "" };
    try {
      const response = await fetch(`${internal ? replica.internalUrl : replica.url}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      const text = await response.text();
      reply.status = response.status;
      reply.cookie = response.headers
        .getSetCookie()
        .map((line) => line.split(";")[0])
        .join("; ");
      try {
        reply.json = JSON.parse(text);
      } catch {
        reply.json = undefined;
      }
    } catch {
      reply.status = 0;
    }
    this.answers.push({ op, replica: replica.name, status: reply.status, ms: performance.now() - started });
    return reply;
  }
}

interface RequestOptions {
  body?: unknown;
  cookie?: string;
  method?: "GET" | "POST";
  internal?: boolean;
  address?: string;
}

/** Median, 95th and 99th percentile and count of the answers' durations, by operation. */
export function latencyTable(answers: Answer[]): string[] {
  const byOp = new Map<Operation, Answer[]>();
  for (const answer of answers) byOp.set(answer.op, [...(byOp.get(answer.op) ?? []), answer]);
  const rows = [...byOp].map(([op, list]) => {
    const ms = list.map((answer) => answer.ms).sort((a, b) => a - b);
    const at = (q: number) => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))]!.toFixed(0);
    const statuses = Object.entries(countBy(list, (answer) => String(answer.status)))
      .map(([status, count]) => `${status}×${count}`)
      .join(" ");
    return `| ${op} | ${list.length} | ${at(0.5)} | ${at(0.95)} | ${at(0.99)} | ${statuses} |`;
  });
  return ["| request | count | p50 ms | p95 ms | p99 ms | statuses |", "|---|---:|---:|---:|---:|---|", ...rows];
}

export function countBy<T>(items: T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}
