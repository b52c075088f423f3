/** CHORD-RELOAD ring arithmetic and Routing Table against brute force over a sorted ring (RFC 6940 §10.1–§10.3). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ChordRoutingTable, Ring, RingIdError } from '../../../../../src-main/reload/topology';

const ring = new Ring(128);
const big = fc.bigInt({ min: 0n, max: ring.size - 1n });
const id = (v: bigint) => ring.fromBig(v);
const cw = (from: bigint, to: bigint) => ring.distance(from, to);

describe('Ring', () => {
  it('round-trips IDs, wraps around, and measures clockwise', () => {
    fc.assert(fc.property(big, (v) => ring.toBig(ring.fromBig(v)) === v));
    expect(ring.add(ring.size - 1n, 2n)).toBe(1n);
    expect(cw(ring.size - 1n, 1n)).toBe(2n);
    expect(ring.inArc(5n, 3n, 5n)).toBe(true); // (3, 5]
    expect(ring.inArc(3n, 3n, 5n)).toBe(false);
    expect(ring.inArc(1n, ring.size - 2n, 2n)).toBe(true); // across zero
    expect(ring.inArc(9n, 4n, 4n)).toBe(true); // from == to: the whole ring
  });

  it('gives finger ranges with finger 1 half way round', () => {
    expect(ring.fingerRange(0n, 1)).toEqual({ start: 1n << 127n, end: ring.size - 1n });
    expect(ring.fingerRange(0n, 128)).toEqual({ start: 1n, end: 1n });
    expect(() => ring.fingerRange(0n, 0)).toThrow(RingIdError);
  });

  it('refuses IDs of the wrong length, naming both', () => {
    expect(() => ring.toBig(new Uint8Array(20))).toThrow(/16 bytes, got 20/);
    expect(() => new Ring(12)).toThrow(RingIdError);
  });
});

describe('ChordRoutingTable', () => {
  const setup = fc.record({ self: big, peers: fc.uniqueArray(big, { minLength: 0, maxLength: 40 }) });

  it('keeps the 3 closest successors and predecessors, never itself', () => {
    fc.assert(
      fc.property(setup, ({ self, peers }) => {
        const table = new ChordRoutingTable(ring, id(self));
        for (const p of peers) table.add(id(p));
        const others = peers.filter((p) => p !== self);
        const succ = [...others].sort((a, b) => (cw(self, a) < cw(self, b) ? -1 : 1)).slice(0, 3);
        const pred = [...others].sort((a, b) => (cw(a, self) < cw(b, self) ? -1 : 1)).slice(0, 3);
        expect(table.neighbours.successors.map((x) => ring.toBig(x))).toEqual(succ);
        expect(table.neighbours.predecessors.map((x) => ring.toBig(x))).toEqual(pred);
      }),
    );
  });

  it('is responsible exactly for (first predecessor, self], or everything when alone', () => {
    fc.assert(
      fc.property(setup, big, ({ self, peers }, k) => {
        const table = new ChordRoutingTable(ring, id(self));
        for (const p of peers) table.add(id(p));
        const others = peers.filter((p) => p !== self);
        // No other peer in [k, self): then our first predecessor lies before k.
        const responsibleByBruteForce = others.every((p) => !(cw(k, p) < cw(k, self)));
        expect(table.isResponsible(id(k))).toBe(responsibleByBruteForce);
      }),
    );
  });

  it('routes to the peer with the largest ID in (self, k], else the smallest beyond k (§10.3)', () => {
    fc.assert(
      fc.property(setup, big, ({ self, peers }, k) => {
        const table = new ChordRoutingTable(ring, id(self), { neighbours: 64, fingers: 128 });
        for (const p of peers) table.add(id(p));
        const others = peers.filter((p) => p !== self);
        const hop = table.nextHop(id(k));
        if (others.length === 0) {
          expect(hop).toBeUndefined();
          return;
        }
        const inside = others.filter((p) => cw(self, p) <= cw(self, k));
        const expected = others.includes(k)
          ? k
          : inside.length > 0
            ? inside.reduce((a, b) => (cw(self, a) > cw(self, b) ? a : b))
            : others.reduce((a, b) => (cw(k, a) < cw(k, b) ? a : b));
        expect(ring.toBig(hop!)).toBe(expected);
      }),
    );
  });

  it('fills fingers from peers in their ranges and makes progress on every hop', () => {
    const self = 0n;
    const table = new ChordRoutingTable(ring, id(self));
    expect(table.missingFingers).toHaveLength(16);
    table.add(id((1n << 127n) + 5n)); // in finger 1's range
    table.add(id((1n << 126n) + 7n)); // finger 2
    expect(table.fingerTable.get(1)).toEqual(id((1n << 127n) + 5n));
    expect(table.fingerTable.get(2)).toEqual(id((1n << 126n) + 7n));
    expect(table.missingFingers).not.toContain(1);
    // A target just below finger 1 goes to finger 2, the largest peer before it.
    expect(ring.toBig(table.nextHop(id(1n << 127n))!)).toBe((1n << 126n) + 7n);
  });

  it('reports neighbour and range changes, and forgets removed peers everywhere', () => {
    const table = new ChordRoutingTable(ring, id(100n));
    expect(table.add(id(50n))).toEqual({ neighbours: true, range: true });
    expect(table.add(id(50n))).toEqual({ neighbours: false, range: false });
    expect(table.isResponsible(id(60n))).toBe(true);
    expect(table.isResponsible(id(40n))).toBe(false);
    expect(table.add(id(80n))).toEqual({ neighbours: true, range: true }); // a closer predecessor
    expect(table.isResponsible(id(60n))).toBe(false);
    expect(table.remove(id(80n))).toEqual({ neighbours: true, range: true });
    expect(table.isResponsible(id(60n))).toBe(true);
    table.remove(id(50n));
    expect(table.nextHop(id(7n))).toBeUndefined();
    expect(table.isResponsible(id(7n))).toBe(true); // alone again
  });
});
