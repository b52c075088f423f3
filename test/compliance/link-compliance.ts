/**
 * The one test suite every Link implementation must pass (in the style of js-libp2p's interface
 * compliance tests). A harness gives two connected links and a way to let time pass: real sockets wait,
 * the in-memory network advances its virtual clock.
 */
import { describe, expect, it } from 'vitest';
import { LinkClosedError, LinkCongestedError, MessageTooLargeError, type Link } from '../../src-main/reload/link/link';
import { toHex } from '../../src-main/reload/wire';

export interface LinkPair {
  /** The side that connected. */
  a: Link;
  /** The side that accepted. */
  b: Link;
  aNodeId: Uint8Array;
  bNodeId: Uint8Array;
  /** Lets time pass (real: a short wait; virtual: advance the clock). */
  tick(): Promise<void>;
  teardown(): Promise<void>;
}

async function until(pair: LinkPair, condition: () => boolean, what: string, ticks = 500): Promise<void> {
  for (let i = 0; i < ticks; i++) {
    if (condition()) return;
    await pair.tick();
  }
  throw new Error(`timed out waiting for ${what}`);
}

function collect(link: Link): Uint8Array[] {
  const got: Uint8Array[] = [];
  link.onMessage((m) => got.push(m));
  return got;
}

const message = (i: number, size = 64) => Uint8Array.from({ length: size }, (_, k) => (i * 31 + k) & 0xff);

export function describeLinkCompliance(name: string, makePair: () => Promise<LinkPair>): void {
  describe(`Link compliance: ${name}`, () => {
    it('names each peer by the Node-ID in its certificate', async () => {
      const p = await makePair();
      try {
        expect(p.a.peer.nodeIds.map(toHex)).toContain(toHex(p.bNodeId));
        expect(p.b.peer.nodeIds.map(toHex)).toContain(toHex(p.aNodeId));
        expect(p.a.closed).toBe(false);
      } finally {
        await p.teardown();
      }
    });

    it('delivers messages in order, both ways, byte for byte', async () => {
      const p = await makePair();
      try {
        const atB = collect(p.b);
        const atA = collect(p.a);
        for (let i = 0; i < 100; i++) await p.a.send(message(i));
        for (let i = 0; i < 20; i++) await p.b.send(message(1000 + i, 300));
        await until(p, () => atB.length === 100 && atA.length === 20, 'all messages');
        expect(atB).toEqual(Array.from({ length: 100 }, (_, i) => message(i)));
        expect(atA).toEqual(Array.from({ length: 20 }, (_, i) => message(1000 + i, 300)));
        expect(p.a.stats.messagesSent).toBe(100);
        expect(p.b.stats.messagesReceived).toBe(100);
      } finally {
        await p.teardown();
      }
    });

    it('carries a message of exactly the maximum size and refuses a larger one without closing', async () => {
      const p = await makePair();
      try {
        const atB = collect(p.b);
        await p.a.send(message(7, p.a.maxMessageSize));
        await expect(p.a.send(message(8, p.a.maxMessageSize + 1))).rejects.toBeInstanceOf(MessageTooLargeError);
        await p.a.send(message(9, 10));
        await until(p, () => atB.length === 2, 'two messages');
        expect(atB[0]?.length).toBe(p.a.maxMessageSize);
        expect(p.a.closed).toBe(false);
      } finally {
        await p.teardown();
      }
    });

    it('refuses sends beyond its send queue limit without closing, and delivers exactly what it accepted', async () => {
      const p = await makePair();
      try {
        const atB = collect(p.b);
        const size = Math.min(4000, p.a.maxMessageSize);
        p.a.sendQueueLimit = 32 * 1024;
        // Not awaited: a burst far larger than the limit, as a sender that ignores backpressure would make.
        const sends = Array.from({ length: 100 }, (_, i) => p.a.send(message(i, size)));
        const results = await Promise.allSettled(sends);
        const accepted = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
        const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
        expect(refused.length).toBeGreaterThan(0);
        expect(accepted.length).toBeGreaterThan(0);
        for (const reason of refused) expect(reason).toBeInstanceOf(LinkCongestedError);
        expect(p.a.stats.congested).toBe(refused.length);
        expect(p.a.stats.messagesSent).toBe(accepted.length);
        expect(p.a.closed).toBe(false);
        await until(p, () => atB.length >= accepted.length, 'the accepted messages', 1000);
        expect(atB).toEqual(accepted.map((i) => message(i, size)));
        expect(p.a.queuedBytes).toBe(0);
        await p.a.send(message(1000, size));
        await until(p, () => atB.length === accepted.length + 1, 'one more message', 1000);
        expect(atB.at(-1)).toEqual(message(1000, size));
        expect(p.a.closed).toBe(false);
      } finally {
        await p.teardown();
      }
    });

    it('measures a round-trip time once messages flowed', async () => {
      const p = await makePair();
      try {
        const atB = collect(p.b);
        for (let i = 0; i < 5; i++) await p.a.send(message(i));
        await until(p, () => atB.length === 5 && p.a.rttMs !== undefined, 'an RTT sample');
        expect(p.a.rttMs).toBeGreaterThanOrEqual(0);
      } finally {
        await p.teardown();
      }
    });

    it('closing one side closes the other; sending on a closed link fails with LinkClosedError', async () => {
      const p = await makePair();
      try {
        const reasons: string[] = [];
        p.b.onClose((r) => reasons.push(r));
        await p.a.close();
        expect(p.a.closed).toBe(true);
        await expect(p.a.send(message(1))).rejects.toBeInstanceOf(LinkClosedError);
        await until(p, () => p.b.closed, 'the remote close');
        expect(reasons).toEqual(['remote']);
        await expect(p.b.send(message(2))).rejects.toBeInstanceOf(LinkClosedError);
      } finally {
        await p.teardown();
      }
    });
  });
}
