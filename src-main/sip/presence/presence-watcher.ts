/**
 * Presence of a set of AORs (issue 11 item 9) from their SIP-REGISTRATION records: online (at least one
 * live route registration, with its devices), offline (none), or unknown (the Fetch failed or timed out, or
 * we are not in an overlay). Checks are spread over the interval (each AOR's first check at a random point
 * of it) and run in batches on one ticker with a cap on Fetches in flight; an AOR is fetched at most once per
 * `intervalMs` (the next check is scheduled from the start of the last, plus jitter ≥ 0). Offline AORs back
 * off: the gap doubles per offline check up to `maxOfflineIntervalMs`. Listeners hear changes only.
 *
 * Worst case from a registration appearing or disappearing at the storing peer to the event (F = fetch
 * timeout, T = tick, J = jitter fraction, I = interval, B = max offline interval):
 *   appearing:     B + J·I + T + F   (defaults 120 + 3 + 1 + 10 = 134 s)
 *   disappearing:  I + J·I + T + F   (defaults  30 + 3 + 1 + 10 =  44 s); a device that vanishes without
 *                  deregistering stays online until its registration lifetime L runs out: L + 44 s.
 * These hold while the checks due in one interval fit the in-flight cap (AORs × fetch time ≤ cap × I).
 */
import { toHex, type Clock, type Destination, type TimerHandle } from '../../reload';
import type { AorResolver } from '../resolution/aor-resolver';
import { InvalidTargetError } from '../resolution/errors';
import type { FetchedRegistration } from '../resolution/registration-source';

export interface PresenceDevice {
  /** The registering device (the dictionary key). */
  nodeId: Uint8Array;
  destinations: Destination[];
  contactPrefs: string;
}

export type PresenceState =
  | { status: 'online'; devices: PresenceDevice[]; forwardsTo: string[] }
  | { status: 'offline'; forwardsTo: string[] }
  | { status: 'unknown'; reason: string };

export interface PresenceChange {
  aor: string;
  state: PresenceState;
  previous: PresenceState;
}

export interface PresenceWatcherOptions {
  resolver: Pick<AorResolver, 'registrations' | 'parse'>;
  clock: Clock;
  /** In [0, 1): spreads first checks and jitters the next ones (the simulation's seeded random in tests). */
  random: () => number;
  /** Default 30 s: at most one Fetch per AOR per interval. */
  intervalMs?: number;
  /** Cap of the doubling gap between checks of an offline AOR (default 120 s). */
  maxOfflineIntervalMs?: number;
  /** Extra delay up to this fraction of the interval, so that checks do not fall into step (default 0.1). */
  jitter?: number;
  /** Due checks are started in batches this often (default 1 s). */
  tickMs?: number;
  /** Fetches in flight at once (default 8). */
  maxInFlight?: number;
  /** A Fetch not answered within this makes the AOR unknown (default 10 s). */
  fetchTimeoutMs?: number;
  /** Most AORs watched (default 1000). */
  maxAors?: number;
}

interface Watched {
  aor: string;
  state: PresenceState;
  dueAt: number;
  offlineStreak: number;
  inFlight: boolean;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function text(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    return '';
  }
}

/** Two states are the same presence: status and, when online, the devices (not their expiry). */
function fingerprint(state: PresenceState): string {
  if (state.status === 'unknown') return 'unknown';
  const forwards = [...state.forwardsTo].sort().join(',');
  if (state.status === 'offline') return `offline|${forwards}`;
  const devices = state.devices
    .map(
      (d) =>
        `${toHex(d.nodeId)}:${d.destinations.map((x) => ('id' in x && typeof x.id !== 'number' ? toHex(x.id) : x.type)).join('/')}:${d.contactPrefs}`,
    )
    .sort();
  return `online|${devices.join(',')}|${forwards}`;
}

function stateOf(values: FetchedRegistration[]): PresenceState {
  const devices: PresenceDevice[] = [];
  const forwardsTo: string[] = [];
  for (const { key, registration } of values) {
    if (registration.type === 'route')
      devices.push({
        nodeId: key,
        destinations: registration.destinations,
        contactPrefs: text(registration.contactPrefs),
      });
    else if (registration.type === 'uri') forwardsTo.push(text(registration.uri));
  }
  devices.sort((a, b) => Buffer.compare(a.nodeId, b.nodeId));
  return devices.length > 0 ? { status: 'online', devices, forwardsTo } : { status: 'offline', forwardsTo };
}

export class PresenceWatcher {
  readonly intervalMs: number;
  readonly maxOfflineIntervalMs: number;
  readonly jitter: number;
  readonly tickMs: number;
  readonly maxInFlight: number;
  readonly fetchTimeoutMs: number;
  readonly maxAors: number;
  readonly counters = { checks: 0, events: 0 };
  private readonly watched = new Map<string, Watched>();
  private readonly listeners = new Set<(change: PresenceChange) => void>();
  private ticker: TimerHandle | undefined;
  private inFlight = 0;
  private stopped = false;

  constructor(private readonly o: PresenceWatcherOptions) {
    this.intervalMs = o.intervalMs ?? 30_000;
    this.maxOfflineIntervalMs = Math.max(this.intervalMs, o.maxOfflineIntervalMs ?? 120_000);
    this.jitter = Math.min(Math.max(o.jitter ?? 0.1, 0), 1);
    this.tickMs = o.tickMs ?? 1_000;
    this.maxInFlight = Math.max(1, o.maxInFlight ?? 8);
    this.fetchTimeoutMs = o.fetchTimeoutMs ?? 10_000;
    this.maxAors = o.maxAors ?? 1000;
    if (!(this.intervalMs > 0)) throw new RangeError('intervalMs must be > 0');
    if (!(this.tickMs > 0)) throw new RangeError('tickMs must be > 0');
    this.schedule();
  }

  /**
   * Watches exactly these AORs (normalised like call targets; AORs only, no GRUU or number). AORs already
   * watched keep their state and schedule; new ones start unknown, checked within one interval.
   */
  setAors(aors: Iterable<string>): void {
    const wanted = new Set<string>();
    for (const aor of aors) {
      const parsed = this.o.resolver.parse(aor);
      if (parsed.kind !== 'aor') throw new InvalidTargetError('aor', 'presence is watched for AORs, not GRUUs');
      wanted.add(parsed.aor);
    }
    if (wanted.size > this.maxAors) throw new InvalidTargetError('aors', `more than ${this.maxAors} AORs`);
    for (const aor of this.watched.keys()) if (!wanted.has(aor)) this.watched.delete(aor);
    const now = this.o.clock.now();
    for (const aor of wanted) {
      if (this.watched.has(aor)) continue;
      this.watched.set(aor, {
        aor,
        state: { status: 'unknown', reason: 'not checked yet' },
        dueAt: now + Math.floor(this.o.random() * this.intervalMs),
        offlineStreak: 0,
        inFlight: false,
      });
    }
  }

  aors(): string[] {
    return [...this.watched.keys()];
  }

  state(aor: string): PresenceState | undefined {
    return this.watched.get(aor)?.state;
  }

  onChange(listener: (change: PresenceChange) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  stop(): void {
    this.stopped = true;
    this.ticker?.cancel();
    this.ticker = undefined;
    this.watched.clear();
    this.listeners.clear();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.ticker = this.o.clock.setTimeout(() => {
      this.tick();
      this.schedule();
    }, this.tickMs);
  }

  /** Starts every due check that fits under the in-flight cap, earliest first. */
  private tick(): void {
    const now = this.o.clock.now();
    const due = [...this.watched.values()]
      .filter((w) => !w.inFlight && w.dueAt <= now)
      .sort((a, b) => a.dueAt - b.dueAt);
    for (const w of due) {
      if (this.inFlight >= this.maxInFlight) break;
      void this.check(w);
    }
  }

  private async check(w: Watched): Promise<void> {
    const started = this.o.clock.now();
    w.inFlight = true;
    this.inFlight++;
    this.counters.checks++;
    let state: PresenceState;
    try {
      state = stateOf(await this.withTimeout(this.o.resolver.registrations(w.aor, { fresh: true })));
    } catch (error) {
      state = { status: 'unknown', reason: (error as Error).message };
    } finally {
      w.inFlight = false;
      this.inFlight--;
    }
    if (this.stopped || this.watched.get(w.aor) !== w) return; // no longer watched
    let gap = this.intervalMs;
    if (state.status === 'offline') {
      gap = Math.min(this.intervalMs * 2 ** w.offlineStreak, this.maxOfflineIntervalMs);
      w.offlineStreak++;
    } else w.offlineStreak = 0;
    w.dueAt = started + gap + Math.floor(this.o.random() * this.jitter * this.intervalMs);
    const previous = w.state;
    w.state = state;
    if (fingerprint(previous) === fingerprint(state)) return;
    this.counters.events++;
    for (const listener of [...this.listeners]) listener({ aor: w.aor, state, previous });
  }

  private withTimeout<T>(promise: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = this.o.clock.setTimeout(
        () => reject(new Error(`no answer within ${this.fetchTimeoutMs} ms`)),
        this.fetchTimeoutMs,
      );
      promise.then(
        (v) => {
          timer.cancel();
          resolve(v);
        },
        (e: unknown) => {
          timer.cancel();
          reject(e instanceof Error ? e : new Error(String(e)));
        },
      );
    });
  }
}
