/**
 * CHORD-RELOAD on the in-memory network with a virtual clock: the real node code (transport, Attach,
 * Chord, signatures) with simulated links and time. Joins converge to a correct ring, lookups reach the
 * responsible peer, Leave and abrupt failures are repaired, and the Join rules of §6.4.2.1 hold.
 */
import { describe, expect, it } from 'vitest';
import { ErrorResponseError } from '../../../../../src-main/reload/transport';
import { OverlaySimulation } from '../../../../../src-main/reload/sim';
import { ErrorCode, toHex } from '../../../../../src-main/reload/wire';

const randomId = (sim: OverlaySimulation) => Uint8Array.from({ length: 16 }, () => Math.floor(sim.random() * 256));

describe('overlay simulation (CHORD-RELOAD on memory links)', () => {
  it('30 peers join one by one into a correct ring; lookups reach the responsible peer in few hops', async () => {
    const sim = await OverlaySimulation.create({ nodes: 30, seed: 11 });
    for (let i = 0; i < 30; i++) await sim.start(i);
    await sim.run(2_000);
    expect(sim.ringErrors()).toEqual([]);
    // Predecessors too: each peer's first predecessor is the previous Node-ID on the ring.
    const sorted = [...sim.nodes].sort((a, b) => Buffer.compare(a.node.nodeId, b.node.nodeId));
    sorted.forEach((n, i) => {
      const previous = sorted[(i + sorted.length - 1) % sorted.length]!;
      expect(toHex(n.node.table.neighbours.predecessors[0]!)).toBe(toHex(previous.node.nodeId));
    });
    const hops: number[] = [];
    for (let k = 0; k < 40; k++) {
      const id = randomId(sim);
      const from = Math.floor(sim.random() * 30);
      const { responder, hops: h } = await sim.lookup(from, id);
      expect(toHex(responder)).toBe(toHex(sim.responsibleFor(id)!.node.nodeId));
      hops.push(h);
    }
    const mean = hops.reduce((a, b) => a + b, 0) / hops.length;
    expect(mean).toBeLessThanOrEqual(0.5 * Math.log2(30) + 1);
  }, 120_000);

  it('repairs the ring after a graceful Leave and after abrupt failures', async () => {
    const sim = await OverlaySimulation.create({ nodes: 24, seed: 5, chord: { updateIntervalMs: 10_000 } });
    for (let i = 0; i < 24; i++) await sim.start(i);
    await sim.run(2_000);
    expect(sim.ringErrors()).toEqual([]);
    // A graceful Leave: neighbours learn of it at once (no waiting for a timeout).
    const leaver = sim.nodes[7]!;
    await sim.until(leaver.node.stop());
    leaver.alive = false;
    await sim.run(1_000);
    expect(sim.ringErrors()).toEqual([]);
    // 30% die abruptly (their links vanish); the survivors rebuild their successor lists.
    for (const i of [1, 4, 9, 12, 15, 18, 21]) await sim.kill(i);
    await sim.run(40_000, 20);
    expect(sim.ringErrors()).toEqual([]);
    for (let k = 0; k < 20; k++) {
      const id = randomId(sim);
      const from = sim.nodes.filter((n) => n.alive)[k % 10]!.index;
      expect(toHex((await sim.lookup(from, id)).responder)).toBe(toHex(sim.responsibleFor(id)!.node.nodeId));
    }
  }, 120_000);

  it('refuses a Join whose joining_peer_id is not its signer (Error_Forbidden)', async () => {
    const sim = await OverlaySimulation.create({ nodes: 3, seed: 2 });
    for (let i = 0; i < 3; i++) await sim.start(i);
    await sim.run(500);
    const [a, b, c] = sim.nodes as [(typeof sim.nodes)[0], (typeof sim.nodes)[0], (typeof sim.nodes)[0]];
    const failure = await sim
      .until(
        a.node.transport.request([{ type: 'node', id: b.node.nodeId }], {
          method: 'join_req',
          value: { joiningPeerId: c.node.nodeId, overlaySpecificData: new Uint8Array(0) },
        }),
      )
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ErrorResponseError);
    expect((failure as ErrorResponseError).errorCode).toBe(ErrorCode.Forbidden);
  }, 60_000);
});
