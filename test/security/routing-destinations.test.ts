/**
 * Destinations that used to amplify traffic (RFC 6940 §6.1.1):
 * - the wildcard Node-ID was forwarded round the ring instead of delivered by the first peer, so one Ping
 *   made about a hundred forwards (fifty Pings, about ten thousand messages);
 * - a Node-ID inside a peer's range that no node holds bounced between that peer and its predecessor until
 *   the TTL ran out. It is now dropped silently by the peer whose range holds it, unless the node is linked
 *   to that peer (a client, a peer still joining): then it goes straight there.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src-main/reload/clock';
import { MemoryNetwork } from '../../src-main/reload/link/memory/memory-network';
import type { Link } from '../../src-main/reload/link/link';
import { OverlaySimulation, type SimNode } from '../../src-main/reload/sim';
import { answerPing, ErrorResponseError, RequestTimeoutError, StaticTopology } from '../../src-main/reload/transport';
import { bytesEqual, toHex, type Body } from '../../src-main/reload/wire';
import { memoryLogger } from '../support/fixtures';
import { makeNodes, type TestNodes } from '../support/node-identities';
import { settle, testTransport } from '../support/test-transport';

const WILDCARD = new Uint8Array(16).fill(0xff);
const ping: Body = { method: 'ping_req', value: { padding: new Uint8Array(0) } };
const total = (sim: OverlaySimulation, counter: 'forwarded' | 'messagesOut') =>
  sim.nodes.reduce((sum, n) => sum + n.node.transport.counters[counter], 0);
const minus = (id: Uint8Array, by: number): Uint8Array => {
  const out = Uint8Array.from(id);
  let borrow = by;
  for (let i = out.length - 1; i >= 0 && borrow > 0; i--) {
    const v = (out[i] as number) - borrow;
    out[i] = (v + 256) & 0xff;
    borrow = v < 0 ? 1 : 0;
  }
  return out;
};

let sim: OverlaySimulation;

beforeAll(async () => {
  sim = await OverlaySimulation.create({ nodes: 12, seed: 1010 });
  for (let i = 0; i < 12; i++) await sim.start(i);
  await sim.run(3_000);
}, 120_000);

describe('the wildcard Node-ID', () => {
  it('is answered by the peer at the other end of the link and never forwarded', async () => {
    const a = sim.nodes[0]!.node;
    const b = sim.nodes.find((n) => bytesEqual(n.node.nodeId, a.table.neighbours.successors[0]!))!.node;
    const link = a.transport.linkTo(b.nodeId)!;
    const forwardedAtB = b.transport.counters.forwarded;
    const forwarded = total(sim, 'forwarded');
    const sent = total(sim, 'messagesOut');
    const answer = await sim.until(a.transport.request([{ type: 'node', id: WILDCARD }], ping, { via: link }));
    expect(answer.body.method).toBe('ping_ans');
    expect(toHex(answer.from.nodeIds[0]!)).toBe(toHex(b.nodeId));
    expect(answer.message.security.certificates).toEqual([]); // one hop between neighbours
    expect(b.transport.counters.forwarded - forwardedAtB).toBe(0);
    expect(total(sim, 'forwarded') - forwarded).toBe(0);
    expect(total(sim, 'messagesOut') - sent).toBeLessThanOrEqual(4); // request and answer (+ background)
  });

  it('fifty wildcard Pings cost about a hundred messages, not ten thousand', async () => {
    const a = sim.nodes[3]!.node;
    const link = a.transport.linkTo(a.table.neighbours.predecessors[0]!)!;
    const sent = total(sim, 'messagesOut');
    const answers = await sim.until(
      Promise.all(
        Array.from({ length: 50 }, () => a.transport.request([{ type: 'node', id: WILDCARD }], ping, { via: link })),
      ),
    );
    expect(answers.every((x) => x.body.method === 'ping_ans')).toBe(true);
    expect(total(sim, 'messagesOut') - sent).toBeLessThanOrEqual(110);
  });

  it('a wildcard second in the destination list is delivered by the peer that reaches it', async () => {
    const a = sim.nodes[5]!.node;
    const far = sim.nodes.find((n) => n.node !== a && !a.transport.linkTo(n.node.nodeId))!.node;
    const forwardedAtFar = far.transport.counters.forwarded;
    const answer = await sim.until(
      a.transport.request(
        [
          { type: 'node', id: far.nodeId },
          { type: 'node', id: WILDCARD },
        ],
        ping,
      ),
    );
    expect(toHex(answer.from.nodeIds[0]!)).toBe(toHex(far.nodeId));
    expect(far.transport.counters.forwarded - forwardedAtFar).toBe(0);
  });
});

describe('a Node-ID inside a peer’s range that no node holds', () => {
  it('is dropped by that peer after a bounded number of messages, not bounced until the TTL runs out', async () => {
    const sorted = [...sim.nodes].sort((x, y) => Buffer.compare(x.node.nodeId, y.node.nodeId));
    const holder = sorted[6] as SimNode;
    const predecessor = sorted[5] as SimNode;
    const free = minus(holder.node.nodeId, 1); // in (predecessor, holder]: holder's range
    expect(sim.nodes.some((n) => bytesEqual(n.node.nodeId, free))).toBe(false);
    // From a peer that is neither: the request is routed, by the predecessor, to the holder.
    const from = sorted.find(
      (n) => n !== holder && n !== predecessor && !n.node.transport.linkTo(holder.node.nodeId),
    ) as SimNode;
    const forwarded = total(sim, 'forwarded');
    const atHolder = holder.node.transport.counters.forwarded;
    const dropsBefore = holder.node.transport.counters.dropped['node-in-our-range'] ?? 0;
    const failure = await sim
      .until(from.node.transport.request([{ type: 'node', id: free }], ping))
      .catch((e: unknown) => e);
    // Silently dropped: the requester's five transmissions go unanswered.
    expect(failure).toBeInstanceOf(RequestTimeoutError);
    expect((holder.node.transport.counters.dropped['node-in-our-range'] ?? 0) - dropsBefore).toBe(5);
    expect(holder.node.transport.counters.forwarded - atHolder).toBe(0);
    // Five transmissions of a few hops each (12 peers: at most 4 hops with fingers), background aside.
    expect(total(sim, 'forwarded') - forwarded).toBeLessThanOrEqual(30);
  });

  it('sent by the peer whose own range holds it, goes to its predecessor and back, and is dropped', async () => {
    // The peer cannot tell a free Node-ID from a new neighbour it has not heard of yet, so it routes it; the
    // predecessor it reaches sends it back (its originator may be passed once more), and there it stops.
    const a = sim.nodes[2]!.node;
    const free = minus(a.nodeId, 1);
    const forwarded = total(sim, 'forwarded');
    const drops = a.transport.counters.dropped['node-in-our-range'] ?? 0;
    const failure = await sim.until(a.transport.request([{ type: 'node', id: free }], ping)).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(RequestTimeoutError);
    expect((a.transport.counters.dropped['node-in-our-range'] ?? 0) - drops).toBe(5);
    expect(total(sim, 'forwarded') - forwarded).toBeLessThanOrEqual(5 + 3); // one per transmission (+ background)
  });
});

describe('the peer whose range holds a Node-ID (message transport, static tables)', () => {
  let ids: TestNodes;
  beforeAll(async () => {
    ids = await makeNodes(3);
  });

  /**
   * A — P — C on memory links. P is responsible for C's Node-ID and for FREE, and routes everything else back
   * to A; A routes everything to P: what Chord tables look like at the predecessor and the holder.
   */
  function triangle() {
    const clock = new VirtualClock();
    const net = new MemoryNetwork(clock, { latencyMs: 5, jitterMs: 0, loss: 0, bandwidth: 0 }, 7, 5000);
    const [a, p, c] = ids.nodes as [(typeof ids.nodes)[0], (typeof ids.nodes)[0], (typeof ids.nodes)[0]];
    const free = minus(c.nodeId, 1);
    const inP = (id: Uint8Array) => bytesEqual(id, p.nodeId) || bytesEqual(id, c.nodeId) || bytesEqual(id, free);
    const make = (n: typeof a, responsible: (id: Uint8Array) => boolean, next: Uint8Array) =>
      testTransport(n, ids.policy, {
        overlay: 0x1234,
        reliabilityTimerMs: 1000,
        topology: new StaticTopology(responsible, () => next),
        clock,
        log: memoryLogger().log,
      });
    const ta = make(a, (id) => bytesEqual(id, a.nodeId), p.nodeId);
    const tp = make(p, inP, a.nodeId);
    const tc = make(c, (id) => bytesEqual(id, c.nodeId), p.nodeId);
    for (const t of [ta, tp, tc]) t.handle(() => answerPing());
    const [ea, ep, ec] = [a, p, c].map((n, i) => net.endpoint(`n${i}`, n.identity)) as [
      ReturnType<typeof net.endpoint>,
      ReturnType<typeof net.endpoint>,
      ReturnType<typeof net.endpoint>,
    ];
    ep.onLink((l: Link) => tp.addLink(l));
    void ea.connect('n1').then((l) => ta.addLink(l));
    void ec.connect('n1').then((l) => tc.addLink(l));
    const run = <T>(promise: Promise<T>): Promise<T> => settle(clock, promise, 30_000);
    return { ta, tp, tc, c, free, run, clock };
  }

  it('forwards straight to a linked node in its range and drops a free Node-ID there silently', async () => {
    const { ta, tp, c, free, run } = triangle();
    await run(new Promise((resolve) => setTimeout(resolve, 0)));
    const answer = await run(ta.request([{ type: 'node', id: c.nodeId }], ping));
    expect(toHex(answer.from.nodeIds[0]!)).toBe(toHex(c.nodeId));
    const sent = ta.counters.messagesOut + tp.counters.messagesOut;
    const failure = await run(ta.request([{ type: 'node', id: free }], ping)).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(RequestTimeoutError);
    expect(failure).not.toBeInstanceOf(ErrorResponseError);
    expect(tp.counters.dropped['node-in-our-range']).toBe(5);
    // Five transmissions A→P, nothing back: not a hundred bounces between A and P.
    expect(ta.counters.messagesOut + tp.counters.messagesOut - sent).toBe(5);
  });
});
