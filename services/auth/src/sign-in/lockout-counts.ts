import { createHash } from "node:crypto";
import type { LockoutPolicy } from "../config.js";
import type { CounterStore } from "./counter-store.js";

/** What one more failed sign-in did to an identifier. */
export interface FailureOutcome {
  /** Failed sign-ins in the current window. */
  failures: number;
  /** How many lockouts this identifier has had lately (0: this failure started none). */
  level: number;
  /** Length of the lockout this failure started, in ms (0: none). */
  lockedForMs: number;
}

/** How long an identifier's lockout level is remembered: the back-off keeps growing within a day. */
const LEVEL_MEMORY_MS = 24 * 3600 * 1000;
/** Identifiers a replica remembers while Redis is down (oldest forgotten first). */
const LOCAL_CAPACITY = 10_000;

// One atomic step per failure, so replicas racing on one account agree on the count. A lockout
// starts a fresh count: once it expires, only another full run of `threshold` failures locks
// again (for twice as long: the level is remembered), never a single mistyped password.
// KEYS: failures, level, lock. ARGV: window ms, threshold, base ms, max ms, level memory ms.
const recordFailureScript = `
local failures = redis.call('INCR', KEYS[1])
if failures == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
if failures < tonumber(ARGV[2]) then return {failures, 0, 0} end
local level = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
local lockMs = math.min(tonumber(ARGV[3]) * 2 ^ (level - 1), tonumber(ARGV[4]))
redis.call('SET', KEYS[3], level, 'PX', lockMs)
redis.call('DEL', KEYS[1])
return {failures, level, lockMs}
`;

interface LockoutCommands {
  temetroLockoutFailure(
    failures: string,
    level: string,
    lock: string,
    windowMs: number,
    threshold: number,
    baseMs: number,
    maxMs: number,
    levelMemoryMs: number,
  ): Promise<[number, number, number]>;
}

interface LocalEntry {
  failures: number;
  failuresUntil: number;
  level: number;
  levelUntil: number;
  lockedUntil: number;
}

/**
 * Failed sign-ins counted per account (see `lockoutKey` in lockout.ts), in Redis so that every
 * replica and every client address add to one count. The `threshold`-th failure within the window
 * locks the account for a back-off that doubles with every lockout (base, 2×base, 4×base, … up to
 * the maximum) and starts the count afresh. A successful sign-in, a completed password reset or an
 * admin's lift clears it all.
 */
export class AccountLockout {
  private readonly local = new Map<string, LocalEntry>();

  constructor(
    private readonly counters: CounterStore,
    readonly policy: LockoutPolicy,
  ) {
    if (!("temetroLockoutFailure" in counters.redis)) {
      counters.redis.defineCommand("temetroLockoutFailure", { numberOfKeys: 3, lua: recordFailureScript });
    }
  }

  /** Milliseconds the identifier stays locked; 0 when it is not. */
  async remainingLockMs(identifier: string): Promise<number> {
    return (await this.state(identifier)).remainingLockMs;
  }

  /**
   * Whether the identifier is locked, and whether anything at all is recorded against it (failures,
   * a lockout level): one round trip, so that a successful sign-in with nothing to forget (the
   * usual case) needs no second one to clear.
   */
  state(identifier: string): Promise<{ remainingLockMs: number; recorded: boolean }> {
    const { failures, level, lock } = this.keysOf(identifier);
    return this.counters.run(
      async (redis) => {
        const answers = await redis.multi().pttl(lock).exists(failures, level).exec();
        if (!answers || answers.some(([error]) => error)) throw answers?.find(([error]) => error)?.[0] ?? new Error("no answer");
        const lockMs = Number(answers[0]![1]);
        return { remainingLockMs: Math.max(0, lockMs), recorded: lockMs > 0 || Number(answers[1]![1]) > 0 };
      },
      () => {
        const entry = this.localEntry(identifier);
        return { remainingLockMs: Math.max(0, (entry?.lockedUntil ?? 0) - Date.now()), recorded: entry !== undefined };
      },
    );
  }

  recordFailure(identifier: string): Promise<FailureOutcome> {
    const { failures, level, lock } = this.keysOf(identifier);
    const { windowSeconds, threshold, baseSeconds, maxSeconds } = this.policy;
    return this.counters.run(
      async (redis) => {
        const [count, newLevel, lockMs] = await (redis as unknown as LockoutCommands).temetroLockoutFailure(
          failures,
          level,
          lock,
          windowSeconds * 1000,
          threshold,
          baseSeconds * 1000,
          maxSeconds * 1000,
          LEVEL_MEMORY_MS,
        );
        return { failures: count, level: newLevel, lockedForMs: lockMs };
      },
      () => this.recordLocalFailure(identifier),
    );
  }

  /**
   * Counts a sign-in refused while locked (for the security log). Its round trip to Redis also
   * stands in for the one a wrong password's `recordFailure` makes, so a refusal takes as long.
   */
  noteRefusal(identifier: string, remainingLockMs: number): Promise<number> {
    const { refused } = this.keysOf(identifier);
    return this.counters.run(
      async (redis) => {
        const answers = await redis.multi().incr(refused).pexpire(refused, Math.max(1, Math.ceil(remainingLockMs))).exec();
        return Number(answers?.[0]?.[1] ?? 0);
      },
      () => 0,
    );
  }

  /** Forgets the identifier's failures, level and lockout (a successful sign-in, an admin's lift). */
  clear(identifier: string): Promise<void> {
    const { failures, level, lock, refused } = this.keysOf(identifier);
    // Memory too: a lockout counted while Redis was down must not outlive the lift.
    this.local.delete(identifier);
    return this.counters.run(
      async (redis) => {
        await redis.del(failures, level, lock, refused);
      },
      () => undefined,
    );
  }

  private keysOf(identifier: string) {
    // Hashed: bounded key length, and no addresses in Redis key names.
    const digest = createHash("sha256").update(identifier).digest("hex").slice(0, 32);
    // The digest is the hash tag on a Cluster: the failure script and the MULTIs touch all four keys at once.
    const base = `${this.counters.keyPrefix}lockout:${this.counters.sameSlot(digest)}`;
    return { failures: `${base}:failures`, level: `${base}:level`, lock: `${base}:lock`, refused: `${base}:refused` };
  }

  private localEntry(identifier: string): LocalEntry | undefined {
    const entry = this.local.get(identifier);
    if (!entry) return undefined;
    const now = Date.now();
    if (entry.failuresUntil <= now) entry.failures = 0;
    if (entry.levelUntil <= now) entry.level = 0;
    if (entry.failures === 0 && entry.level === 0 && entry.lockedUntil <= now) {
      this.local.delete(identifier);
      return undefined;
    }
    return entry;
  }

  private recordLocalFailure(identifier: string): FailureOutcome {
    const now = Date.now();
    const { windowSeconds, threshold, baseSeconds, maxSeconds } = this.policy;
    let entry = this.localEntry(identifier);
    if (!entry) {
      if (this.local.size >= LOCAL_CAPACITY) this.local.delete(this.local.keys().next().value!);
      entry = { failures: 0, failuresUntil: 0, level: 0, levelUntil: 0, lockedUntil: 0 };
      this.local.set(identifier, entry);
    }
    entry.failures += 1;
    if (entry.failures === 1) entry.failuresUntil = now + windowSeconds * 1000;
    if (entry.failures < threshold) return { failures: entry.failures, level: 0, lockedForMs: 0 };
    const failures = entry.failures;
    entry.failures = 0;
    entry.level += 1;
    entry.levelUntil = now + LEVEL_MEMORY_MS;
    const lockedForMs = Math.min(baseSeconds * 1000 * 2 ** (entry.level - 1), maxSeconds * 1000);
    entry.lockedUntil = now + lockedForMs;
    return { failures, level: entry.level, lockedForMs };
  }
}
