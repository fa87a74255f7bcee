/** What `waitUntil` throws when the condition never held: `eventually` tells it from a failed read. */
export class WaitTimeout extends Error {}

/**
 * Polls `check` until it holds (no fixed sleeps: a loaded machine only makes it slower); throws
 * naming `what` after `timeoutMs`. A `check` that throws ends the wait with its error.
 */
export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 60_000,
  everyMs = 25,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new WaitTimeout(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/**
 * Reads until `check` accepts the value or `timeoutMs` has passed, and answers the last value read
 * either way, for the test to assert on (its failure then shows the value).
 */
export async function eventually<T>(
  read: () => Promise<T>,
  check: (value: T) => boolean,
  timeoutMs = 2000,
  everyMs = 1,
): Promise<T> {
  let value!: T;
  try {
    await waitUntil(async () => check((value = await read())), "", timeoutMs, everyMs);
  } catch (error) {
    if (!(error instanceof WaitTimeout)) throw error;
  }
  return value;
}
