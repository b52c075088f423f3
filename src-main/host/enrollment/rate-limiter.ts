/**
 * Login throttling for the enrollment server (RFC 6940 asks enrollment servers to rate-limit issuance against
 * Sybil attacks; this also stops password guessing). The policy (docs/decisions.md, "Enrollment login
 * throttling"):
 *
 * - Every admitted attempt is counted when it arrives, before its password is checked, in one synchronous
 *   step: concurrent guesses cannot all slip past a limit while the first ones are still being hashed.
 * - Per (user, address) pair: `pairFreeAttempts` attempts, then each further one must come at least
 *   pairBaseDelayMs·2^k after the previous (k = 0, 1, …; at most pairMaxDelayMs) or is refused with the time to
 *   wait. Those refusals count too (the pair's own hammering only pushes its next chance further away). A success
 *   clears the pair and makes it a known pair for `knownPairMs`.
 * - Per address across users: at most `maxPerAddress` attempts, then the address is refused until it has
 *   been quiet for a window. The networks around it have budgets of their own, so one subscriber cannot multiply
 *   the per-address budget by taking many addresses: `maxPerNetwork` per IPv4 /24 and IPv6 /56, `maxPerSite` per
 *   IPv6 /48 (client-address.ts); they run out a window after their last admitted attempt.
 * - Per user across addresses: never a lock-out, a slow-down. Beyond `userFreeAttempts`, checks for that user
 *   start at least userBaseDelayMs·2^k apart (at most userMaxDelayMs): the attempt is admitted with a delay.
 * - Checks in flight (admitted, delayed or hashing) are capped per address and per user; beyond the caps an
 *   attempt is refused with a short retry time. Such a refusal is caused by others' load, so it is counted
 *   nowhere: it never moves the pair's, the address's or the network's counts.
 * - Others can fill a user's `maxInFlightPerUser` shared slots, so two kinds of attempt have a slot the guessers
 *   cannot hold for long. A pair's first attempt in a window may take one more slot per user, outside the shared
 *   queue: its wait is one step of the slow-down (at most userMaxDelayMs), so a guesser holds that slot only by
 *   bringing a fresh address for every step, each address once per window. A known pair (the password was right
 *   from this address within knownPairMs) has its own slot, one check at a time, and skips the user's slow-down
 *   and the address and network budgets, which neighbours can spend: only its own pair counts hold it back.
 *
 * So the real user, once admitted, waits at most maxInFlightPerUser·userMaxDelayMs in a shared slot and
 * userMaxDelayMs in the first-attempt slot; from an address where they logged in before, not at all. Many
 * addresses together get one check per userMaxDelayMs per user in the shared queue, plus one per step in the
 * first-attempt slot (each from a fresh address).
 *
 * A counter is forgotten after `windowMs` without attempts, a known pair after `knownPairMs`. Memory is bounded:
 * at most `maxKeys` entries of each kind (least recently used go first), in-flight entries only while something
 * is in flight. The clock is injected for tests.
 */
import { clientNetworkKeys } from './client-address';

export interface RateLimiterOptions {
  windowMs?: number;
  pairFreeAttempts?: number;
  pairBaseDelayMs?: number;
  pairMaxDelayMs?: number;
  maxPerAddress?: number;
  maxPerNetwork?: number;
  maxPerSite?: number;
  userFreeAttempts?: number;
  userBaseDelayMs?: number;
  userMaxDelayMs?: number;
  maxInFlightPerUser?: number;
  maxInFlightPerAddress?: number;
  knownPairMs?: number;
  maxKeys?: number;
  now?: () => number;
}

export const DEFAULT_RATE_LIMITS: Readonly<Required<Omit<RateLimiterOptions, 'now'>>> = Object.freeze({
  windowMs: 15 * 60_000,
  pairFreeAttempts: 5,
  pairBaseDelayMs: 1_000,
  pairMaxDelayMs: 15 * 60_000,
  maxPerAddress: 30,
  maxPerNetwork: 60,
  maxPerSite: 120,
  userFreeAttempts: 10,
  userBaseDelayMs: 500,
  userMaxDelayMs: 5_000,
  maxInFlightPerUser: 4,
  maxInFlightPerAddress: 4,
  knownPairMs: 30 * 24 * 60 * 60_000,
  maxKeys: 10_000,
});

/** Why an attempt is refused without a password check, and when to come back. */
export interface LoginRefusal {
  refused: 'address' | 'network' | 'pair' | 'in-flight-address' | 'in-flight-user' | 'in-flight-pair';
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
  private readonly networks = new Map<string, Counter>();
  private readonly users = new Map<string, Counter>();
  /** Pairs whose password was right, and when. */
  private readonly known = new Map<string, number>();
  private readonly inFlightByUser = new Map<string, number>();
  private readonly inFlightByAddress = new Map<string, number>();
  /** Users whose slot for a pair's first attempt is taken. */
  private readonly firstAttemptSlot = new Set<string>();
  /** Known pairs with their check in flight. */
  private readonly knownInFlight = new Set<string>();

  constructor(options: RateLimiterOptions = {}) {
    const { now, ...rest } = options;
    this.limits = { ...DEFAULT_RATE_LIMITS, ...rest };
    this.now = now ?? Date.now;
  }

  /** Admits or refuses the attempt and counts it, in one synchronous step. */
  begin(username: string, address: string): LoginAdmission | LoginRefusal {
    const l = this.limits;
    const now = this.now();
    const pairKey = `${username}\u0000${address}`;
    const knownAt = this.known.get(pairKey);
    const known = knownAt !== undefined && now - knownAt <= l.knownPairMs;
    if (knownAt !== undefined && !known) this.known.delete(pairKey);

    // The address's and its networks' budgets, spent by anyone there: a known pair does not depend on them.
    const scopes: Counter[] = [];
    if (!known) {
      const byAddress = this.counter(this.addresses, address, now);
      if (byAddress.count >= l.maxPerAddress) {
        byAddress.last = now; // the address's own hammering keeps it shut
        return { refused: 'address', retryAfterMs: l.windowMs };
      }
      scopes.push(byAddress);
      for (const network of clientNetworkKeys(address)) {
        const byNetwork = this.counter(this.networks, network, now);
        if (byNetwork.count >= (network.endsWith('/48') ? l.maxPerSite : l.maxPerNetwork))
          return { refused: 'network', retryAfterMs: Math.max(IN_FLIGHT_RETRY_MS, byNetwork.last + l.windowMs - now) };
        scopes.push(byNetwork);
      }
    }

    // The pair's own history: only its own attempts ever got counted here.
    const pair = this.counter(this.pairs, pairKey, now);
    const spacing = (n: number) => Math.min(l.pairBaseDelayMs * 2 ** (n - l.pairFreeAttempts - 1), l.pairMaxDelayMs);
    if (pair.count >= l.pairFreeAttempts && now - pair.last < spacing(pair.count + 1)) {
      pair.count++;
      pair.last = now;
      for (const scope of scopes) count(scope, now);
      return { refused: 'pair', retryAfterMs: spacing(pair.count + 1) };
    }

    // Slots for checks in flight. A refusal here is others' load: nothing is counted.
    let slot: 'known' | 'shared' | 'first';
    if (known) {
      if (this.knownInFlight.has(pairKey)) return { refused: 'in-flight-pair', retryAfterMs: IN_FLIGHT_RETRY_MS };
      slot = 'known';
    } else {
      if ((this.inFlightByAddress.get(address) ?? 0) >= l.maxInFlightPerAddress)
        return { refused: 'in-flight-address', retryAfterMs: IN_FLIGHT_RETRY_MS };
      if ((this.inFlightByUser.get(username) ?? 0) < l.maxInFlightPerUser) slot = 'shared';
      else if (pair.count === 0 && !this.firstAttemptSlot.has(username)) slot = 'first';
      else return { refused: 'in-flight-user', retryAfterMs: IN_FLIGHT_RETRY_MS };
    }

    // Admitted: counted now, before the check.
    count(pair, now);
    for (const scope of scopes) count(scope, now);
    const user = this.counter(this.users, username, now);
    count(user, now);
    let delayMs = 0;
    if (!known && user.count > l.userFreeAttempts) {
      const step = Math.min(l.userBaseDelayMs * 2 ** (user.count - l.userFreeAttempts - 1), l.userMaxDelayMs);
      if (slot === 'first') {
        // Its own lane, one step long: holding it costs a guesser a fresh address every step.
        delayMs = step;
      } else {
        const start = Math.max(now, user.nextStart);
        user.nextStart = start + step;
        delayMs = start - now;
      }
    }
    if (slot === 'known') this.knownInFlight.add(pairKey);
    else {
      bump(this.inFlightByAddress, address, 1);
      if (slot === 'shared') bump(this.inFlightByUser, username, 1);
      else this.firstAttemptSlot.add(username);
    }

    let done = false;
    const finish = (ok: boolean) => {
      if (done) return;
      done = true;
      if (slot === 'known') this.knownInFlight.delete(pairKey);
      else {
        bump(this.inFlightByAddress, address, -1);
        if (slot === 'shared') bump(this.inFlightByUser, username, -1);
        else this.firstAttemptSlot.delete(username);
      }
      if (!ok) return;
      // The password was right: this attempt was no guess, and the pair has proved itself.
      this.pairs.delete(pairKey);
      this.known.delete(pairKey);
      this.known.set(pairKey, this.now());
      while (this.known.size > l.maxKeys) this.known.delete(this.known.keys().next().value as string);
      for (const scope of scopes) scope.count = Math.max(0, scope.count - 1);
      user.count = Math.max(0, user.count - 1);
    };
    return { delayMs, succeeded: () => finish(true), failed: () => finish(false) };
  }

  /** Checks admitted and not yet finished, for tests and logs. */
  inFlight(): { users: number; addresses: number } {
    const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
    return {
      users: sum(this.inFlightByUser) + this.firstAttemptSlot.size + this.knownInFlight.size,
      addresses: sum(this.inFlightByAddress) + this.knownInFlight.size,
    };
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

function count(counter: Counter, now: number): void {
  counter.count++;
  counter.last = now;
}

function bump(map: Map<string, number>, key: string, by: number): void {
  const value = (map.get(key) ?? 0) + by;
  if (value > 0) map.set(key, value);
  else map.delete(key);
}
