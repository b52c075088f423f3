/**
 * A forged response cannot bounce between honest peers. Responses retrace their request's path, so duplicate
 * destination entries cannot be refused in them as in requests; an outside review sent one signed ping_ans
 * with the destination list [A, B, A, B, …] (101 entries) from a peer M linked to A, and A and B forwarded it
 * 100 times between them. A response is now never forwarded to a node it has already been at, except its
 * final destination.
 */
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src-main/reload/clock';
import { createSigner, signMessage } from '../../src-main/reload/crypto';
import type { Link } from '../../src-main/reload/link/link';
import { MemoryNetwork } from '../../src-main/reload/link/memory/memory-network';
import { answerPing, StaticTopology } from '../../src-main/reload/transport';
import { bytesEqual, type Body, type Destination, type ForwardingHeader } from '../../src-main/reload/wire';
import { memoryLogger } from '../support/fixtures';
import { makeNodes } from '../support/node-identities';
import { advance, testTransport } from '../support/test-transport';

const OVERLAY = 0x1234;

async function threePeers() {
  const ids = await makeNodes(3);
  const clock = new VirtualClock();
  const net = new MemoryNetwork(clock, { latencyMs: 5, jitterMs: 0, loss: 0, bandwidth: 0 }, 7, 5000);
  const [m, a, b] = ids.nodes;
  if (!m || !a || !b) throw new Error('three nodes');
  // A routes everything to B and B to A: the worst case for a message that asks to go back and forth.
  const make = (n: typeof a, next: Uint8Array) =>
    testTransport(n, ids.policy, {
      overlay: OVERLAY,
      reliabilityTimerMs: 1000,
      topology: new StaticTopology(
        (id) => bytesEqual(id, n.nodeId),
        () => next,
      ),
      clock,
      log: memoryLogger().log,
    });
  const ta = make(a, b.nodeId);
  const tb = make(b, a.nodeId);
  for (const t of [ta, tb]) t.handle(() => answerPing());
  const [em, ea, eb] = [m, a, b].map((n, i) => net.endpoint(`n${i}`, n.identity));
  ea!.onLink((l) => ta.addLink(l));
  eb!.onLink((l) => tb.addLink(l));
  let toA: Link | undefined;
  void em!.connect('n1').then((l) => (toA = l));
  void ea!.connect('n2').then((l) => ta.addLink(l));
  await advance(clock, 200);
  if (!toA) throw new Error('M is not linked to A');
  const signer = createSigner({ privateKey: m.privateKey, certificate: m.certificate });
  const forged = (body: Body, destinationList: Destination[], transactionId: bigint) => {
    const header: ForwardingHeader = {
      overlay: OVERLAY,
      configurationSequence: 1,
      version: 0x0a,
      ttl: 100,
      fragment: 0x80000000,
      length: 0,
      transactionId,
      maxResponseLength: 0,
      viaList: [],
      destinationList,
      options: [],
    };
    return signMessage(header, { body, extensions: [] }, signer, { nodeIdLength: 16 });
  };
  const forwards = () => ta.counters.forwarded + tb.counters.forwarded;
  return { clock, a, b, ta, tb, toA, forged, forwards };
}

describe('a forged response', () => {
  it('with the destination list [A, B, A, B, …] is forwarded at most once', async () => {
    const p = await threePeers();
    const alternating = Array.from({ length: 101 }, (_, i): Destination => ({
      type: 'node',
      id: i % 2 === 0 ? p.a.nodeId : p.b.nodeId,
    }));
    const before = p.forwards();
    await p.toA.send(p.forged({ method: 'ping_ans', value: { responseId: 1n, time: 1n } }, alternating, 77n));
    await advance(p.clock, 3_000);
    expect(p.forwards() - before).toBeLessThanOrEqual(1);
    expect(p.tb.counters.dropped['response-loop'] ?? 0).toBe(1);
  });

  it('still reaches a final destination it passed once before ([B, A] from A: A → B → A)', async () => {
    const p = await threePeers();
    const before = p.forwards();
    const arrivedAtA = p.ta.counters.messagesIn;
    const list: Destination[] = [
      { type: 'node', id: p.a.nodeId },
      { type: 'node', id: p.b.nodeId },
      { type: 'node', id: p.a.nodeId },
    ];
    await p.toA.send(p.forged({ method: 'ping_ans', value: { responseId: 1n, time: 1n } }, list, 78n));
    await advance(p.clock, 3_000);
    // A forwards to B, and B forwards it back to A, its final destination.
    expect(p.forwards() - before).toBe(2);
    expect(p.ta.counters.messagesIn - arrivedAtA).toBe(2);
    expect(p.tb.counters.dropped['response-loop'] ?? 0).toBe(0);
  });
});
