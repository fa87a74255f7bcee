import { Writable } from "node:stream";

/** Every line a logger wrote, for tests that check what is (not) logged. */
export interface CapturedLogs {
  /** The lines, parsed (pino writes one JSON object a line). */
  readonly lines: Record<string, unknown>[];
  text(): string;
}

/**
 * A destination that keeps in memory what a service's own logger writes (its serializers and
 * redaction included), and the view of it tests read.
 */
export function captureLogs(): { destination: Writable; logs: CapturedLogs } {
  const raw: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      raw.push(chunk.toString());
      done();
    },
  });
  const logs: CapturedLogs = {
    get lines() {
      return raw.map((line) => JSON.parse(line) as Record<string, unknown>);
    },
    text: () => raw.join(""),
  };
  return { destination, logs };
}
