/**
 * Login throttling for the enrollment server (RFC 6940 asks enrollment servers to rate-limit issuance against
 * Sybil attacks; this also stops password guessing). The policy (docs/decisions.md, "Enrollment login
 * throttling"):
 *
 * - Every attempt is counted when it arrives, before its password is checked, in one synchronous step:
 *   concurrent guesses cannot all slip past a limit while the first ones are still being hashed.
 * - Per (user, address) pair: `pairFreeAttempts` attempts, then each further one must come at least
 *   pairBaseDelayMs·2^k after the previous (k = 0, 1, …; at most pairMaxDelayMs) or is refused with the time to
 *   wait. Refused attempts count too, so hammering only pushes the pair's next chance further away. A success
 *   clears the pair.
 * - Per address across users: at most `maxPerAddress` attempts, then the address is refused until it has
 *   been quiet for a window.
 * - Per user across addresses: never a lock-out, a slow-down. Beyond `userFreeAttempts`, checks for that user
 *   start at least userBaseDelayMs·2^k apart (at most userMaxDelayMs): the attempt is admitted with a delay.
 *   With at most `maxInFlightPerUser` admitted at once, the real user waits at most
 *   maxInFlightPerUser·userMaxDelayMs, and guesses spread over many addresses get one check per userMaxDelayMs.
 * - Checks in flight (admitted, delayed or hashing) are capped per user and per address; beyond the caps an
 *   attempt is refused with a short retry time.
 *
 * A counter is forgotten after `windowMs` without attempts. Memory is bounded: at most `maxKeys` counters of
 * each kind (least recently used go first), in-flight entries only while something is in flight. The clock is
 * injected for tests.
 */
export interface RateLimiterOptions {
  windowMs?: number;
  pairFreeAttempts?: number;
  pairBaseDelayMs?: number;
  pairMaxDelayMs?: number;
  maxPerAddress?: number;
  userFreeAttempts?: number;
  userBaseDelayMs?: number;
  userMaxDelayMs?: number;
  maxInFlightPerUser?: number;
  maxInFlightPerAddress?: number;
  maxKeys?: number;
  now?: () => number;
}

export const DEFAULT_RATE_LIMITS: Readonly<Required<Omit<RateLimiterOptions, 'now'>>> = Object.freeze({
  windowMs: 15 * 60_000,
  pairFreeAttempts: 5,
  pairBaseDelayMs: 1_000,
  pairMaxDelayMs: 15 * 60_000,
  maxPerAddress: 30,
  userFreeAttempts: 10,
  userBaseDelayMs: 500,
  userMaxDelayMs: 5_000,
  maxInFlightPerUser: 4,
  maxInFlightPerAddress: 4,
  maxKeys: 10_000,
});

/** Why an attempt is refused without a password check, and when to come back. */
export interface LoginRefusal {
  refused: 'address' | 'pair' | 'in-flight-address' | 'in-flight-user';
  retryAfterMs: number;
}

/** An admitted attempt: wait `delayMs`, check the password, then report the outcome exactly once. */
export interface LoginAdmission {
  refused?: undefined;
  delayMs: number;
  succeeded(): void;
  failed(): void;
}

interface Counter {
  count: number;
  last: number;
  /** Users only: when the next check for this user may start. */
  nextStart: number;
}

/** Retry time for a refusal caused by checks in flight: they take well under a second. */
const IN_FLIGHT_RETRY_MS = 1_000;

export class LoginRateLimiter {
  private readonly limits: Required<Omit<RateLimiterOptions, 'now'>>;
  private readonly now: () => number;
  private readonly pairs = new Map<string, Counter>();
  private readonly addresses = new Map<string, Counter>();
  private readonly users = new Map<string, Counter>();
  private readonly inFlightByUser = new Map<string, number>();
  private readonly inFlightByAddress = new Map<string, number>();

  constructor(options: RateLimiterOptions = {}) {
    const { now, ...rest } = options;
    this.limits = { ...DEFAULT_RATE_LIMITS, ...rest };
    this.now = now ?? Date.now;
  }

  /** Counts the attempt and admits or refuses it, in one synchronous step. */
  begin(username: string, address: string): LoginAdmission | LoginRefusal {
    const l = this.limits;
    const now = this.now();
    const byAddress = this.counter(this.addresses, address, now);
    if (byAddress.count >= l.maxPerAddress) {
      byAddress.last = now;
      return { refused: 'address', retryAfterMs: l.windowMs };
    }
    byAddress.count++;
    byAddress.last = now;

    const pairKey = `${username}\u0000${address}`;
    const pair = this.counter(this.pairs, pairKey, now);
    const previous = pair.last;
    pair.count++;
    pair.last = now;
    if (pair.count > l.pairFreeAttempts) {
      const spacing = (n: number) => Math.min(l.pairBaseDelayMs * 2 ** (n - l.pairFreeAttempts - 1), l.pairMaxDelayMs);
      if (now - previous < spacing(pair.count)) return { refused: 'pair', retryAfterMs: spacing(pair.count + 1) };
    }

    if ((this.inFlightByAddress.get(address) ?? 0) >= l.maxInFlightPerAddress)
      return { refused: 'in-flight-address', retryAfterMs: IN_FLIGHT_RETRY_MS };
    if ((this.inFlightByUser.get(username) ?? 0) >= l.maxInFlightPerUser)
      return { refused: 'in-flight-user', retryAfterMs: IN_FLIGHT_RETRY_MS };

    const user = this.counter(this.users, username, now);
    user.count++;
    user.last = now;
    let delayMs = 0;
    if (user.count > l.userFreeAttempts) {
      const spacing = Math.min(l.userBaseDelayMs * 2 ** (user.count - l.userFreeAttempts - 1), l.userMaxDelayMs);
      const start = Math.max(now, user.nextStart);
      user.nextStart = start + spacing;
      delayMs = start - now;
    }

    bump(this.inFlightByAddress, address, 1);
    bump(this.inFlightByUser, username, 1);
    let done = false;
    const finish = (ok: boolean) => {
      if (done) return;
      done = true;
      bump(this.inFlightByAddress, address, -1);
      bump(this.inFlightByUser, username, -1);
      if (!ok) return;
      // The password was right: this attempt was no guess, and the pair has proved itself.
      this.pairs.delete(pairKey);
      byAddress.count = Math.max(0, byAddress.count - 1);
      user.count = Math.max(0, user.count - 1);
    };
    return { delayMs, succeeded: () => finish(true), failed: () => finish(false) };
  }

  /** Checks admitted and not yet finished, for tests and logs. */
  inFlight(): { users: number; addresses: number } {
    const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
    return { users: sum(this.inFlightByUser), addresses: sum(this.inFlightByAddress) };
  }

  private counter(map: Map<string, Counter>, key: string, now: number): Counter {
    let counter = map.get(key);
    if (counter && now - counter.last > this.limits.windowMs) counter = undefined;
    if (counter) map.delete(key); // re-inserted below: the Map's order is least recently used first
    counter ??= { count: 0, last: now, nextStart: 0 };
    map.set(key, counter);
    while (map.size > this.limits.maxKeys) map.delete(map.keys().next().value as string);
    return counter;
  }
}

function bump(map: Map<string, number>, key: string, by: number): void {
  const value = (map.get(key) ?? 0) + by;
  if (value > 0) map.set(key, value);
  else map.delete(key);
}
