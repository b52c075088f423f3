/** Fragmentation for a small MTU and reassembly with bounded buffers and a timeout (RFC 6940 §6.7). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as W from '../../../../../src-main/reload/wire';

const ctx = W.decodeContext({ maxMessageSize: 20_000 });

function message(bodySize: number, transactionId = 42n): Uint8Array {
  return W.encodeMessage(
    {
      header: {
        overlay: 1,
        configurationSequence: 0,
        version: 0x0a,
        ttl: 100,
        transactionId,
        maxResponseLength: 0,
        viaList: [{ type: 'compressed', id: 0x8001 }],
        destinationList: [{ type: 'node', id: new Uint8Array(16).fill(3) }],
        options: [],
      },
      contents: {
        code: W.MessageCode.ping_req,
        body: Uint8Array.from({ length: bodySize }, (_, i) => i & 0xff),
        extensions: [],
      },
      security: { certificates: [], signature: W.NO_SIGNATURE },
    },
    { nodeIdLength: 16 },
  );
}

describe('fragmentation', () => {
  it('leaves a message that fits alone', () => {
    const m = message(100);
    expect(W.fragmentMessage(m, 1500, ctx)).toEqual([m]);
  });

  it('splits into equal fragments under the MTU, each a valid header + slice, offsets and last bit right', () => {
    const m = message(5000);
    const pieces = W.fragmentMessage(m, 1200, ctx);
    expect(pieces.length).toBe(5);
    let offset = 0;
    pieces.forEach((piece, i) => {
      expect(piece.length).toBeLessThanOrEqual(1200);
      const { header, headerLength } = W.decodeHeader(piece, ctx);
      expect(header.length).toBe(piece.length);
      expect(header.fragment & W.FRAGMENT_OFFSET_MASK).toBe(offset);
      expect((header.fragment & W.FRAGMENT_LAST_BIT) !== 0).toBe(i === pieces.length - 1);
      expect(piece.length - headerLength).toBeGreaterThanOrEqual(W.MIN_FRAGMENT_PAYLOAD);
      offset += piece.length - headerLength;
    });
  });

  it('balances the pieces: at most one byte apart, each within the MTU, at least 256 bytes where any split allows it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 300, max: 9000 }), fc.integer({ min: 330, max: 1500 }), (size, mtu) => {
        const m = message(size);
        const pieces = W.fragmentMessage(m, mtu, ctx);
        const { headerLength } = W.decodeHeader(m, ctx);
        const slices = pieces.map((p) => p.length - (pieces.length > 1 ? headerLength : 0));
        for (const p of pieces) expect(p.length).toBeLessThanOrEqual(Math.max(mtu, pieces.length > 1 ? 0 : m.length));
        expect(Math.max(...slices) - Math.min(...slices)).toBeLessThanOrEqual(1);
        const payload = m.length - headerLength;
        const room = mtu - headerLength;
        // Some n with n * 256 <= payload <= n * room exists: then every piece carries at least 256 bytes.
        const splittable = Math.ceil(payload / room) <= Math.floor(payload / W.MIN_FRAGMENT_PAYLOAD);
        if (pieces.length > 1 && splittable) expect(Math.min(...slices)).toBeGreaterThanOrEqual(W.MIN_FRAGMENT_PAYLOAD);
      }),
      { numRuns: 500 },
    );
  });

  it('in a gap no split can meet (1,000 bytes over a 300-byte room), sends balanced pieces rather than failing', () => {
    const probe = message(100);
    const { headerLength } = W.decodeHeader(probe, ctx);
    const m = message(100 + (1000 - (probe.length - headerLength)));
    const pieces = W.fragmentMessage(m, headerLength + 300, ctx);
    // Three pieces would need 334 > 300 bytes, four leave 250 < 256: four it is.
    expect(pieces.map((p) => p.length - headerLength)).toEqual([250, 250, 250, 250]);
    const r = new W.Reassembler(ctx);
    const done = pieces.map((p) => r.add(p, 0)).filter((x) => x.status === 'complete');
    expect((done[0] as { message: Uint8Array }).message).toEqual(m);
  });

  it('reassembles in any order, with duplicates, into the original bytes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 600, max: 9000 }),
        fc.integer({ min: 400, max: 1500 }),
        fc.infiniteStream(fc.nat()),
        (size, mtu, rnd) => {
          const m = message(size);
          const pieces = W.fragmentMessage(m, mtu, ctx);
          fc.pre(pieces.length > 1);
          const order = [...pieces, pieces[0]!]
            .map((p) => ({ p, k: rnd.next().value as number }))
            .sort((a, b) => a.k - b.k);
          const r = new W.Reassembler(ctx);
          const results = order.map(({ p }) => r.add(p, 0));
          const done = results.filter((x) => x.status === 'complete');
          expect(done).toHaveLength(1);
          // The duplicate arrives before or after completion: pending before, recognised after.
          expect(results.filter((x) => x.status === 'duplicate').length).toBeLessThanOrEqual(1);
          expect((done[0] as { message: Uint8Array }).message).toEqual(m);
          expect(r.pendingCount).toBe(0);
          expect(r.bufferedBytes).toBe(0);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('a fragment can be fragmented again on a later hop', () => {
    const m = message(6000);
    const first = W.fragmentMessage(m, 3000, ctx);
    const again = first.flatMap((p) => W.fragmentMessage(p, 800, ctx));
    const r = new W.Reassembler(ctx);
    const done = again.map((p) => r.add(p, 0)).filter((x) => x.status === 'complete');
    expect((done[0] as { message: Uint8Array }).message).toEqual(m);
  });

  it('refuses an MTU that cannot carry 256 bytes after the header', () => {
    expect(() => W.fragmentMessage(message(2000), 200, ctx)).toThrow(W.ReloadEncodeError);
  });

  it('discards incomplete sets after the timeout (15 s by default)', () => {
    const pieces = W.fragmentMessage(message(3000), 1000, ctx);
    const r = new W.Reassembler(ctx);
    expect(r.add(pieces[0]!, 0).status).toBe('pending');
    expect(r.purge(14_999)).toBe(0);
    expect(r.add(pieces[1]!, 14_999).status).toBe('pending');
    expect(r.purge(15_000)).toBe(1);
    expect(r.bufferedBytes).toBe(0);
    // What arrives afterwards starts a new set and never completes the old message.
    expect(pieces.slice(2).map((p) => r.add(p, 15_001).status)).not.toContain('complete');
  });

  it('drops sets that overflow the buffer, exceed max-message-size or overlap inconsistently', () => {
    const big = W.fragmentMessage(message(6000), 1000, ctx);
    const small = new W.Reassembler(ctx, { maxBufferedBytes: 2000 });
    const statuses = big.map((p) => small.add(p, 0).status);
    expect(statuses).toContain('dropped');
    expect(small.bufferedBytes).toBeLessThanOrEqual(2000);

    const tight = new W.Reassembler(W.decodeContext({ maxMessageSize: 3000 }));
    const pieces = W.fragmentMessage(message(3500), 900, ctx);
    expect(pieces.map((p) => tight.add(p, 0).status)).toContain('dropped');

    const r = new W.Reassembler(ctx);
    const [a] = W.fragmentMessage(message(3000), 1000, ctx);
    const [b] = W.fragmentMessage(message(3000), 1300, ctx); // same transaction, different slicing
    expect(r.add(a!, 0).status).toBe('pending');
    expect(r.add(b!, 0)).toMatchObject({ status: 'dropped', reason: /conflicting duplicate/ });
  });

  it('keeps sets of different transactions apart', () => {
    const r = new W.Reassembler(ctx);
    const a = W.fragmentMessage(message(2000, 1n), 800, ctx);
    const b = W.fragmentMessage(message(2000, 2n), 800, ctx);
    const out = [a[0], b[0], a[1], b[1], a[2], b[2]].map((p) => r.add(p!, 0));
    expect(out.filter((x) => x.status === 'complete')).toHaveLength(2);
  });
});
