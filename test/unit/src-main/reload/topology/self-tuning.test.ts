/** RFC 7363 self-tuning estimators on hand-made rings: exact numbers for N, U, L, the interval and the sizes. */
import { describe, expect, it } from 'vitest';
import {
  ChordRoutingTable,
  estimateFailureRate,
  estimateJoinRate,
  estimateNetworkSize,
  percentile75,
  perDay,
  Ring,
  SelfTuningState,
  stabilizationIntervalMs,
  tableSizes,
  toSelfTuningData,
} from '../../../../../src-main/reload/topology';

const ring = new Ring(8); // 256 IDs: small enough to reason about by hand

describe('network size N = 2^bits / average gap', () => {
  it('is exact on an evenly spaced ring (8 peers, 32 apart)', () => {
    expect(estimateNetworkSize(ring, 0n, [224n, 192n, 160n], [32n, 64n, 96n])).toBe(8);
  });

  it('averages uneven gaps from the farthest predecessor to the farthest successor', () => {
    // span 200 -> 100 clockwise = 156 over 5 gaps: N = 5 * 256 / 156
    expect(estimateNetworkSize(ring, 0n, [250n, 200n], [10n, 40n, 100n])).toBeCloseTo((5 * 256) / 156, 12);
  });

  it('uses one side alone when the other is empty, and counts the peers of a ring smaller than the lists', () => {
    expect(estimateNetworkSize(ring, 0n, [], [64n, 128n])).toBe(4);
    expect(estimateNetworkSize(ring, 0n, [192n, 128n, 64n], [64n, 128n, 192n])).toBe(4);
    expect(estimateNetworkSize(ring, 0n, [], [])).toBe(1);
  });
});

describe('failure rate U = k / (M * Tk) over the last K = 25% of M failures', () => {
  it('counts the last K failures and the time from the oldest of them to now', () => {
    // M = 20 -> K = 5: all 4 failures, Tk = 40 s: U = 4 / (20 * 40)
    expect(estimateFailureRate([0, 10_000, 20_000, 30_000], 20, 40_000)).toBeCloseTo(0.005, 15);
    // M = 8 -> K = 2: the failures at 20 s and 30 s, Tk = 20 s: U = 2 / (8 * 20)
    expect(estimateFailureRate([30_000, 0, 10_000, 20_000], 8, 40_000)).toBeCloseTo(0.0125, 15);
  });

  it('has no estimate without failures; Tk is at least 1 s', () => {
    expect(estimateFailureRate([], 20, 40_000)).toBeUndefined();
    expect(estimateFailureRate([5_000], 4, 5_000)).toBe(0.25);
  });
});

describe('join rate L = N / median age', () => {
  it('takes Ages[floor(n/2)] of the ascending ages', () => {
    expect(estimateJoinRate(100, [50, 10, 40, 20, 30])).toBeCloseTo(100 / 30, 12);
    expect(estimateJoinRate(100, [10, 20, 30, 40])).toBeCloseTo(100 / 30, 12);
    expect(estimateJoinRate(100, [])).toBeUndefined();
    expect(estimateJoinRate(100, [0])).toBeUndefined();
  });
});

describe('sharing, interval and sizes', () => {
  it('75th percentile by nearest rank', () => {
    expect(percentile75([1, 2, 3, 4])).toBe(3);
    expect(percentile75([5])).toBe(5);
    expect(percentile75([10, 1, 7, 3, 5, 9, 2, 8])).toBe(8);
    expect(percentile75([])).toBeUndefined();
  });

  it('Tstab = min(Tf / (log2 N)^2, N / (L (log2 N)^2)), Tf = 1 / 2U, within [15 s, max]', () => {
    const max = 600_000;
    // N = 256: (log2 N)^2 = 64. U = 1e-4 -> Tf = 5000 s -> 78.125 s; L = 0.05 -> 80 s.
    expect(stabilizationIntervalMs({ networkSize: 256, failureRate: 1e-4, joinRate: 0.05, maxMs: max })).toBeCloseTo(
      78_125,
      6,
    );
    expect(
      stabilizationIntervalMs({ networkSize: 256, failureRate: undefined, joinRate: 0.05, maxMs: max }),
    ).toBeCloseTo(80_000, 6);
    // U = 1e-3 -> 7.8 s: the 15 s lower bound.
    expect(stabilizationIntervalMs({ networkSize: 256, failureRate: 1e-3, joinRate: undefined, maxMs: max })).toBe(
      15_000,
    );
    // Very little churn: capped at chord-update-interval; no estimate at all: chord-update-interval.
    expect(stabilizationIntervalMs({ networkSize: 256, failureRate: 1e-6, joinRate: undefined, maxMs: max })).toBe(max);
    expect(stabilizationIntervalMs({ networkSize: 256, failureRate: undefined, joinRate: undefined, maxMs: max })).toBe(
      max,
    );
    // N = 2: log2 N = 1. U = 0.01 -> Tf = 50 s.
    expect(stabilizationIntervalMs({ networkSize: 2, failureRate: 0.01, joinRate: undefined, maxMs: max })).toBeCloseTo(
      50_000,
      6,
    );
  });

  it('table sizes: fingers max(ceil(log2 N), 16), neighbours ceil(log2 N) but at least 3', () => {
    expect(tableSizes(200)).toEqual({ neighbours: 8, fingers: 16 });
    expect(tableSizes(5)).toEqual({ neighbours: 3, fingers: 16 });
    expect(tableSizes(1)).toEqual({ neighbours: 3, fingers: 16 });
    expect(tableSizes(1_000_000)).toEqual({ neighbours: 20, fingers: 20 });
    expect(tableSizes(200, 8)).toEqual({ neighbours: 8, fingers: 8 });
  });

  it('rates go on the wire per 24 hours, rounded up (0.123/s -> 10628)', () => {
    expect(perDay(0.123)).toBe(10_628);
    expect(perDay(undefined)).toBe(0);
    expect(perDay(0)).toBe(0);
    expect(perDay(1e9)).toBe(0xffffffff);
    expect(toSelfTuningData({ networkSize: 199.6, joinRate: 0.5, failureRate: 0.001 })).toEqual({
      networkSize: 200,
      joinRate: 43_200,
      leaveRate: Math.ceil(0.001 * 199.6 * 86_400),
    });
  });
});

describe('SelfTuningState', () => {
  it('combines its own estimates with the shared ones (75th percentile) and shares its own', () => {
    const state = new SelfTuningState(ring, { peersToProbe: 2, maxIntervalMs: 600_000 });
    expect(state.current).toBeUndefined();
    expect(state.data).toEqual({ networkSize: 1, joinRate: 0, leaveRate: 0 });
    for (const [peer, uptime] of [
      [32n, 100],
      [64n, 200],
      [96n, 300],
      [224n, 400],
      [7n, 9999], // not in the routing table at estimate time: forgotten
    ] as const)
      state.recordUptime(peer, uptime, 0);
    state.recordShared(1n, { networkSize: 10, joinRate: 864, leaveRate: 0 });
    state.recordShared(2n, { networkSize: 12, joinRate: 1728, leaveRate: 0 });
    state.recordShared(3n, { networkSize: 6, joinRate: 0, leaveRate: 0 });
    const e = state.estimate({
      self: 0n,
      predecessors: [224n, 192n, 160n],
      successors: [32n, 64n, 96n],
      peers: [32n, 64n, 96n, 160n, 192n, 224n],
      nowMs: 100_000,
    });
    // Own: N = 8; ages 200, 300, 400, 500 s -> median 400 -> L = 8 / 400 = 0.02/s; no failures.
    expect(e.own).toEqual({ networkSize: 8, joinRate: 0.02, failureRate: undefined });
    // Combined: N = p75(8, 10, 12, 6) = 10; joins/day p75(1728, 864, 1728) = 1728 -> 0.02/s; leaves all 0.
    expect(e.networkSize).toBe(10);
    expect(e.joinRate).toBe(0.02);
    expect(e.failureRate).toBeUndefined();
    expect(e.shared).toBe(3);
    // Tstab = N / (L (log2 N)^2) = 10 / (0.02 * log2(10)^2)
    expect(e.intervalMs).toBeCloseTo((10 / (0.02 * Math.log2(10) ** 2)) * 1000, 6);
    expect(e).toMatchObject({ neighbours: 4, fingers: 8 });
    expect(state.hasUptime(7n)).toBe(false);
    expect(state.data).toEqual({ networkSize: 8, joinRate: 1728, leaveRate: 0 });

    // A failure 50 s ago among 6 peers: U = 1 / (6 * 50) per peer per s. The peers saw none, and the 75th
    // percentile of the leave rates (ours and three 0) is 0: the combined estimate has no failures.
    state.recordFailure(50_000);
    const input = {
      self: 0n,
      predecessors: [224n, 192n, 160n],
      successors: [32n, 64n, 96n],
      peers: [32n, 64n, 96n, 160n, 192n, 224n],
      nowMs: 100_000,
    };
    const f = state.estimate(input);
    expect(f.own.failureRate).toBeCloseTo(1 / 300, 15);
    expect(f.failureRate).toBeUndefined();
    // Two peers report leaves (8640 and 4320 a day): p75(0, ours ≈ 2304, 4320, 8640) = 4320 a day in an overlay
    // of 10 -> U = 0.005 per peer per s -> Tf = 100 s -> 9.1 s: the 15 s lower bound.
    state.recordShared(1n, { networkSize: 10, joinRate: 864, leaveRate: 8640 });
    state.recordShared(2n, { networkSize: 12, joinRate: 1728, leaveRate: 4320 });
    const g = state.estimate(input);
    expect(g.networkSize).toBe(10);
    expect(g.failureRate).toBeCloseTo(0.005, 15);
    expect(g.intervalMs).toBe(15_000);
    expect(g.intervalMs).toBeLessThan(e.intervalMs);
  });

  it('keeps the latest estimate of the 2 * peersToProbe most recent senders', () => {
    const state = new SelfTuningState(ring, { peersToProbe: 1, maxIntervalMs: 600_000 });
    for (let i = 1; i <= 5; i++) state.recordShared(BigInt(i), { networkSize: 100 * i, joinRate: 0, leaveRate: 0 });
    state.recordShared(4n, { networkSize: 50, joinRate: 0, leaveRate: 0 });
    const e = state.estimate({ self: 0n, predecessors: [], successors: [128n], peers: [128n], nowMs: 0 });
    // Own N = 2; kept: 5 (500) and 4 (50, its latest) -> p75(2, 50, 500) = 500
    expect(e.shared).toBe(2);
    expect(e.networkSize).toBe(500);
  });
});

describe('ChordRoutingTable.resize', () => {
  it('re-chooses the neighbours from every peer held, and drops or refills fingers', () => {
    const table = new ChordRoutingTable(ring, Uint8Array.of(0));
    for (let p = 16; p < 256; p += 16) table.add(Uint8Array.of(p));
    const ids = (list: Uint8Array[]) => list.map((x) => x[0]);
    expect(ids(table.neighbours.successors)).toEqual([16, 32, 48]);
    expect(table.members).toHaveLength(15);
    expect(table.resize({ neighbours: 5 })).toEqual({ neighbours: true, range: false });
    expect(table.neighbourCount).toBe(5);
    expect(ids(table.neighbours.successors)).toEqual([16, 32, 48, 64, 80]);
    expect(ids(table.neighbours.predecessors)).toEqual([240, 224, 208, 192, 176]);
    expect(table.resize({ neighbours: 5 })).toEqual({ neighbours: false, range: false });
    table.resize({ neighbours: 2 });
    expect(ids(table.neighbours.predecessors)).toEqual([240, 224]);

    expect(table.fingerCount).toBe(8); // the ring's bits
    const fingers = () => Object.fromEntries([...table.fingerTable].map(([i, f]) => [i, f[0]]));
    expect(fingers()).toEqual({ 1: 128, 2: 64, 3: 32, 4: 16 });
    table.resize({ fingers: 2 });
    expect(fingers()).toEqual({ 1: 128, 2: 64 });
    expect(table.isFinger(Uint8Array.of(32))).toBe(false);
    table.resize({ fingers: 8 });
    expect(fingers()).toEqual({ 1: 128, 2: 64, 3: 32, 4: 16 });
    expect(table.isFinger(Uint8Array.of(32))).toBe(true);
  });
});
