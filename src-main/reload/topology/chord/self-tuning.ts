/**
 * RFC 7363 self-tuning of CHORD-RELOAD: the estimators (network size, failure rate, join rate), the sharing
 * rule (75th percentile of our own and the received estimates), the stabilization interval and the table
 * sizes that follow from them. Pure functions over plain numbers and ring IDs, and one small state class
 * that remembers failures, uptimes and shared estimates between stabilization periods. No I/O, no timers:
 * every time is passed in (ms).
 */
import type { SelfTuningData } from '../../wire';
import type { Ring } from './ring';

/** RFC 7363 §6.3: the recommended lower bound of the stabilization interval. */
export const MIN_STABILIZATION_MS = 15_000;
/** Seconds in the 24 hours the wire's rates are counted over (RFC 7363 §7.2). */
const DAY_S = 86_400;
const U32_MAX = 0xffffffff;

/**
 * N = 2^bits / d, d the average gap between consecutive Node-IDs from our farthest predecessor to our
 * farthest successor (RFC 7363 §6.2.1). When the two lists overlap we know every peer of a small ring, and
 * count them. Alone: 1.
 */
export function estimateNetworkSize(
  ring: Ring,
  self: bigint,
  predecessors: readonly bigint[],
  successors: readonly bigint[],
): number {
  const preds = predecessors.filter((p) => p !== self);
  const succs = successors.filter((s) => s !== self);
  const all = new Set([...preds, ...succs]);
  if (all.size === 0) return 1;
  if (all.size < preds.length + succs.length) return all.size + 1;
  const farPred = preds.at(-1) ?? self;
  const farSucc = succs.at(-1) ?? self;
  const span = ring.distance(farPred, farSucc);
  if (span === 0n) return all.size + 1;
  const gaps = preds.length + succs.length;
  return (gaps * Number(ring.size)) / Number(span);
}

/**
 * Failure rate U = k / (M · Tk) per peer per second (RFC 7363 §6.2.2): k the failures counted (the last K,
 * K = 25% of the routing table size, at least 1), M the routing table size, Tk the time from the oldest of
 * those k failures to now (at least 1 s). No failure seen: undefined.
 */
export function estimateFailureRate(
  failuresMs: readonly number[],
  routingTableSize: number,
  nowMs: number,
): number | undefined {
  if (failuresMs.length === 0 || routingTableSize <= 0) return undefined;
  const K = Math.max(1, Math.ceil(0.25 * routingTableSize));
  const last = [...failuresMs].sort((a, b) => a - b).slice(-K);
  const tk = Math.max(1, (nowMs - (last[0] as number)) / 1000);
  return last.length / (routingTableSize * tk);
}

/**
 * Join rate L = N / Ages[floor(rsize / 2)] joins per second in the whole overlay (RFC 7363 §6.2.3): the
 * median age (seconds, ascending order) of the routing table's peers whose uptime we know. None known, or a
 * median age of 0: undefined.
 */
export function estimateJoinRate(networkSize: number, agesS: readonly number[]): number | undefined {
  if (agesS.length === 0) return undefined;
  const sorted = [...agesS].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] as number;
  return median > 0 ? networkSize / median : undefined;
}

/** The 75th percentile by nearest rank (RFC 7363 §6.3: of our own and the received estimates). */
export function percentile75(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(0.75 * sorted.length) - 1)];
}

/**
 * Tstab = min(Tf / (log2 N)^2, N / (L · (log2 N)^2)), Tf = 1 / (2U) (RFC 7363 §6.3), bounded below by
 * `minMs` (15 s) and above by `maxMs` (chord-update-interval). A term whose rate is unknown or 0 drops out;
 * with neither, the interval is `maxMs`. log2 N is taken as at least 1 (N ≤ 2).
 */
export function stabilizationIntervalMs(e: {
  networkSize: number;
  failureRate: number | undefined;
  joinRate: number | undefined;
  minMs?: number;
  maxMs: number;
}): number {
  const minMs = Math.min(e.minMs ?? MIN_STABILIZATION_MS, e.maxMs);
  const log2n = Math.max(1, Math.log2(Math.max(1, e.networkSize)));
  const sq = log2n * log2n;
  let seconds = Infinity;
  if (e.failureRate !== undefined && e.failureRate > 0) seconds = Math.min(seconds, 1 / (2 * e.failureRate) / sq);
  if (e.joinRate !== undefined && e.joinRate > 0) seconds = Math.min(seconds, e.networkSize / (e.joinRate * sq));
  if (!Number.isFinite(seconds)) return e.maxMs;
  return Math.min(e.maxMs, Math.max(minMs, seconds * 1000));
}

/**
 * Table sizes for N (RFC 7363 §6.1): fingers max(ceil(log2 N), 16) (at most the ring's bits); successors
 * ceil(log2 N) and predecessors ceil(log2 N), both at least 3 (RFC 6940 §10.1's minimum).
 */
export function tableSizes(networkSize: number, ringBits = 128): { neighbours: number; fingers: number } {
  const log = Math.ceil(Math.log2(Math.max(1, networkSize)));
  return { neighbours: Math.max(3, log), fingers: Math.min(ringBits, Math.max(16, log)) };
}

/** A rate per second as the wire carries it: per 24 hours, rounded up, within uint32. */
export function perDay(ratePerSecond: number | undefined): number {
  if (ratePerSecond === undefined || !(ratePerSecond > 0)) return 0;
  return Math.min(U32_MAX, Math.ceil(ratePerSecond * DAY_S));
}

/** Our estimates as SelfTuningData: N, joins and leaves (U · N) of the whole overlay per 24 hours. */
export function toSelfTuningData(e: {
  networkSize: number;
  joinRate: number | undefined;
  failureRate: number | undefined;
}): SelfTuningData {
  return {
    networkSize: Math.min(U32_MAX, Math.max(1, Math.round(e.networkSize))),
    joinRate: perDay(e.joinRate),
    leaveRate: perDay(e.failureRate === undefined ? undefined : e.failureRate * e.networkSize),
  };
}

export interface SelfTuningEstimate {
  /** Our own estimates from our tables (failure rate per peer per s, join rate per s in the overlay). */
  own: { networkSize: number; failureRate: number | undefined; joinRate: number | undefined };
  /** The 75th percentiles of our own and the received estimates: what the interval and sizes use. */
  networkSize: number;
  failureRate: number | undefined;
  joinRate: number | undefined;
  /** The next stabilization interval. */
  intervalMs: number;
  neighbours: number;
  fingers: number;
  /** How many received estimates went into the percentiles. */
  shared: number;
}

export interface SelfTuningOptions {
  /** self-tuning:number-of-peers-to-probe (RFC 7363 §8; default 4). */
  peersToProbe: number;
  /** The interval with no estimate, and the upper bound (chord-update-interval). */
  maxIntervalMs: number;
  /** Lower bound of the interval (default 15 s). */
  minIntervalMs?: number;
}

/**
 * What a peer remembers for self-tuning: the times of failures it saw, the uptime each peer last reported
 * (with when), and the latest estimate each peer shared with it (the most recent 2 · peersToProbe senders).
 */
export class SelfTuningState {
  private readonly failures: number[] = [];
  private readonly uptimes = new Map<bigint, { uptimeS: number; atMs: number }>();
  private readonly received = new Map<bigint, SelfTuningData>();
  private last: SelfTuningEstimate | undefined;

  constructor(
    readonly ring: Ring,
    readonly options: SelfTuningOptions,
  ) {}

  /** A routing-table peer failed or left (one call per peer and event). */
  recordFailure(nowMs: number): void {
    this.failures.push(nowMs);
    if (this.failures.length > 256) this.failures.splice(0, this.failures.length - 256);
  }

  /** A peer told us its uptime (an Update, or a Probe answer). */
  recordUptime(peer: bigint, uptimeS: number, nowMs: number): void {
    this.uptimes.set(peer, { uptimeS, atMs: nowMs });
  }

  hasUptime(peer: bigint): boolean {
    return this.uptimes.has(peer);
  }

  /** A peer's shared estimates (the self_tuning_data of its Probe or Probe answer). */
  recordShared(peer: bigint, data: SelfTuningData): void {
    this.received.delete(peer);
    this.received.set(peer, data);
    const keep = Math.max(1, 2 * this.options.peersToProbe);
    for (const key of this.received.keys()) {
      if (this.received.size <= keep) break;
      this.received.delete(key);
    }
  }

  /** The last estimate (undefined before the first stabilization). */
  get current(): SelfTuningEstimate | undefined {
    return this.last;
  }

  /**
   * What we share: our own last estimates (not the combined ones, which would feed the percentiles back into
   * themselves), or before the first one just N = 1.
   */
  get data(): SelfTuningData {
    return toSelfTuningData(this.last?.own ?? { networkSize: 1, joinRate: undefined, failureRate: undefined });
  }

  /**
   * One stabilization period's estimate from our neighbours and routing table (`peers`: its members). Uptimes
   * of peers no longer in the table are forgotten.
   */
  estimate(input: {
    self: bigint;
    predecessors: readonly bigint[];
    successors: readonly bigint[];
    peers: readonly bigint[];
    nowMs: number;
  }): SelfTuningEstimate {
    const members = new Set(input.peers);
    for (const peer of [...this.uptimes.keys()]) if (!members.has(peer)) this.uptimes.delete(peer);
    const networkSize = estimateNetworkSize(this.ring, input.self, input.predecessors, input.successors);
    const failureRate = estimateFailureRate(this.failures, members.size, input.nowMs);
    const ages = [...this.uptimes.values()].map((u) => u.uptimeS + (input.nowMs - u.atMs) / 1000);
    const joinRate = estimateJoinRate(networkSize, ages);
    const own = { networkSize, failureRate, joinRate };
    const shared = [...this.received.values()];
    const sizes = [networkSize, ...shared.map((s) => s.networkSize).filter((n) => n > 0)];
    const n = percentile75(sizes) ?? networkSize;
    const joins = [perDay(joinRate), ...shared.map((s) => s.joinRate)].filter((j) => j > 0);
    const leaves = [perDay(failureRate === undefined ? undefined : failureRate * networkSize)].concat(
      shared.map((s) => s.leaveRate),
    );
    const joinPerDay = percentile75(joins);
    const leavePerDay = percentile75(leaves) ?? 0;
    const combinedJoin = joinPerDay === undefined ? undefined : joinPerDay / DAY_S;
    const combinedFailure = leavePerDay > 0 ? leavePerDay / DAY_S / n : undefined;
    const sizesForTable = tableSizes(n, this.ring.bits);
    this.last = {
      own,
      networkSize: n,
      failureRate: combinedFailure,
      joinRate: combinedJoin,
      intervalMs: stabilizationIntervalMs({
        networkSize: n,
        failureRate: combinedFailure,
        joinRate: combinedJoin,
        ...(this.options.minIntervalMs !== undefined ? { minMs: this.options.minIntervalMs } : {}),
        maxMs: this.options.maxIntervalMs,
      }),
      ...sizesForTable,
      shared: shared.length,
    };
    return this.last;
  }
}
