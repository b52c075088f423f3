/**
 * Per-AOR cache of checked registrations, on the node's (monotonic) Clock. A positive entry lives no longer
 * than the shortest remaining lifetime of its values nor `maxPositiveMs`; an AOR with no live value is
 * remembered as absent for `negativeMs`; at most `maxEntries` AORs, least recently used dropped first.
 */
import type { Clock } from '../../reload';
import type { FetchedRegistration } from './registration-source';

export interface RegistrationCacheOptions {
  clock: Clock;
  /** Default 30 s. */
  maxPositiveMs?: number;
  /** Default 5 s. */
  negativeMs?: number;
  /** Default 1000. */
  maxEntries?: number;
}

interface Entry {
  values: FetchedRegistration[];
  until: number;
}

export class RegistrationCache {
  private readonly entries = new Map<string, Entry>();
  readonly maxPositiveMs: number;
  readonly negativeMs: number;
  readonly maxEntries: number;

  constructor(private readonly o: RegistrationCacheOptions) {
    this.maxPositiveMs = o.maxPositiveMs ?? 30_000;
    this.negativeMs = o.negativeMs ?? 5_000;
    this.maxEntries = Math.max(1, o.maxEntries ?? 1000);
  }

  get size(): number {
    return this.entries.size;
  }

  /** The cached values of `aor` (empty: known absent), or undefined when not cached or expired. */
  get(aor: string): FetchedRegistration[] | undefined {
    const entry = this.entries.get(aor);
    if (!entry) return undefined;
    this.entries.delete(aor);
    if (this.o.clock.now() >= entry.until) return undefined;
    this.entries.set(aor, entry); // most recently used goes last
    return entry.values;
  }

  /** Remembers a Fetch result; `wallNow` is the wall-clock time the values' expiry is measured against. */
  put(aor: string, values: FetchedRegistration[], wallNow: number): void {
    let ttl = this.negativeMs;
    if (values.length > 0) {
      const soonest = Math.min(...values.map((v) => v.expiresAt)) - wallNow;
      ttl = Math.min(this.maxPositiveMs, soonest);
    }
    this.entries.delete(aor);
    if (ttl <= 0) return;
    this.entries.set(aor, { values, until: this.o.clock.now() + ttl });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  invalidate(aor: string): void {
    this.entries.delete(aor);
  }

  clear(): void {
    this.entries.clear();
  }
}
