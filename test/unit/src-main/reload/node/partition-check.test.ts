/**
 * Partition detection through a bootstrap node (RFC 6940 §10.7.4.3): two rings formed side by side — as two
 * groups of peers started at once would form — find each other through a bootstrap node and become one
 * correct ring; a peer in the bootstrap node's own ring finds nothing wrong.
 */
import { describe, expect, it } from 'vitest';
import { OverlaySimulation, type SimNode } from '../../../../../src-main/reload/sim';
import { toHex } from '../../../../../src-main/reload/wire';

const addressOf = (n: SimNode) => {
  const [host, port] = n.address.split(':') as [string, string];
  return { host, port: Number(port) };
};

describe('partition detection through bootstrap nodes', () => {
  it('two separately formed rings merge into one correct ring', async () => {
    const sim = await OverlaySimulation.create({ nodes: 16, seed: 7 });
    const [a0, b0] = [sim.nodes[0]!, sim.nodes[8]!];
    // Ring A: nodes 0–7, formed through node 0.
    await sim.start(0);
    for (let i = 1; i < 8; i++) await sim.start(i, 0);
    // Ring B: node 8 forms its own overlay although the configuration names node 0 as a bootstrap node
    // (it started while node 0 was unreachable); nodes 9–15 join through node 8.
    await sim.until(b0.node.start({ firstNode: true, bootstrapNodes: [addressOf(a0)] }));
    b0.node.partitionCheck.stop(); // the test runs the check itself, below
    for (let i = 9; i < 16; i++) await sim.until(sim.nodes[i]!.node.start({ bootstrapNodes: [addressOf(b0)] }));
    await sim.run(5_000);
    // Two rings: every node's successors come from its own half only.
    expect(sim.ringErrors().length).toBeGreaterThan(8);

    // A peer of ring A checking through node 0 sees its own successor: one ring, nothing to do.
    const inA = sim.nodes[3]!;
    expect((await sim.until(inA.node.partitionCheck.check())).outcome).toBe('consistent');

    // Node 8 checks through node 0: ring A names another successor for it, the partition is found.
    const found = await sim.until(b0.node.partitionCheck.check());
    expect(found.outcome).toBe('partition');
    expect(b0.node.status().partitionChecks.partitions).toBe(1);

    // Updates and successor checks then join the rings: every successor list is right for all 16.
    for (let t = 0; t < 40 && sim.ringErrors().length > 0; t++) await sim.run(5_000);
    expect(sim.ringErrors()).toEqual([]);
    for (let k = 0; k < 30; k++) {
      const id = Uint8Array.from({ length: 16 }, () => Math.floor(sim.random() * 256));
      const { responder } = await sim.lookup(k % 16, id);
      expect(toHex(responder)).toBe(toHex(sim.responsibleFor(id)!.node.nodeId));
    }
    // The link opened only for the check did not stay unless node 0 became one of node 8's peers.
    const linkToA0 = b0.node.transport.linkTo(a0.node.nodeId);
    if (linkToA0) expect(b0.node.table.has(a0.node.nodeId)).toBe(true);
  }, 120_000);

  it('a node whose only bootstrap entry is itself, or that has none, reports that', async () => {
    const sim = await OverlaySimulation.create({ nodes: 2, seed: 3 });
    const n0 = sim.nodes[0]!;
    await sim.until(n0.node.start({ firstNode: true, bootstrapNodes: [addressOf(n0)] }));
    expect((await sim.until(n0.node.partitionCheck.check())).outcome).toBe('no-bootstrap-node');
    const n1 = sim.nodes[1]!;
    await sim.until(n1.node.start({ firstNode: true }));
    expect((await sim.until(n1.node.partitionCheck.check())).outcome).toBe('no-bootstrap-node');
  });

  it('an unreachable bootstrap node is reported with the cause', async () => {
    const sim = await OverlaySimulation.create({ nodes: 2, seed: 5 });
    const [n0, n1] = [sim.nodes[0]!, sim.nodes[1]!];
    await sim.start(0);
    await sim.start(1, 0);
    await sim.kill(0);
    await sim.run(1_000);
    const result = await sim.until(n1.node.partitionCheck.check());
    expect(result.outcome).toBe('unreachable');
    if (result.outcome === 'unreachable') expect(result.errors[0]).toMatch(/^10\.0\.0\.0:1: /);
    expect(n1.node.status().partitionChecks.unreachable).toBe(1);
    void n0;
  });
});
