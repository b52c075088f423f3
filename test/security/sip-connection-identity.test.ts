/**
 * RFC 7904 §5.1: the node answering a SIP AppAttach MUST present the Node-ID that ends the destination
 * list, or the connection MUST NOT be used and MUST be closed. The RELOAD layer routes the AppAttach along the
 * whole list and checks the answer's signer against its last Node-ID and the flow against the signer;
 * SipConnections checks the flow against the list once more. Attacks, in the overlay simulation with real
 * ReloadNodes, on SipConnections' own check (the RELOAD layer under it made to behave as a hostile first hop
 * would have it: the AppAttach ends at the list's first entry): a list [A, B] whose first hop A answers itself
 * instead of passing the request on, and a node that answers for a Resource-ID it is responsible for, in a
 * list that ends in B. Honest routing of [A, B] reaches B.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OverlaySimulation, type SimNode } from '../../src-main/reload/sim';
import { toHex, type Destination } from '../../src-main/reload/wire';
import { SipConnectionIdentityError } from '../../src-main/sip/connections/errors';
import {
  SipConnections,
  type SipAppAttachNode,
  type SipTransportEvent,
} from '../../src-main/sip/connections/sip-connections';

/** `node`, except that an AppAttach along a destination list ends at (and is answered by) its first entry. */
function firstHopAnswers(node: SimNode['node']): SipAppAttachNode {
  return {
    appAttach: (destination, applicationId, options) => {
      const first = 'route' in destination ? destination.route[0] : undefined;
      const target =
        first === undefined
          ? destination
          : first.type === 'node'
            ? first.id
            : { resource: (first as { id: Uint8Array }).id };
      return node.appAttach(target as Parameters<typeof node.appAttach>[0], applicationId, options);
    },
    onAppAttach: (applicationId, handler) => node.onAppAttach(applicationId, handler),
  };
}

describe('SIP connections insist on the last destination (RFC 7904 §5.1)', () => {
  let sim: OverlaySimulation;
  let caller: SipConnections;
  const events = new Map<SimNode, SipTransportEvent[]>();
  const all: SipConnections[] = [];
  let a: SimNode, b: SimNode, c: SimNode;

  beforeAll(async () => {
    sim = await OverlaySimulation.create({ nodes: 5, seed: 11 });
    for (let i = 0; i < 5; i++) await sim.start(i);
    await sim.run(2_000);
    // Every node serves SIP (as an attacker's node would).
    for (const n of sim.nodes.slice(1)) {
      const connections = new SipConnections({ node: n.node, clock: sim.clock });
      const seen: SipTransportEvent[] = [];
      connections.onTransport((e) => seen.push(e));
      connections.start();
      events.set(n, seen);
      all.push(connections);
    }
    // Node 0 calls; its RELOAD layer is the hostile-first-hop variant until the last test.
    caller = new SipConnections({ node: firstHopAnswers(sim.nodes[0]!.node), clock: sim.clock });
    caller.start();
    all.push(caller);
    [a, b, c] = [sim.nodes[1]!, sim.nodes[2]!, sim.nodes[3]!];
  }, 120_000);

  afterAll(() => {
    for (const connections of all) connections.stop();
  });

  async function refused(destinations: Destination[], answerer: SimNode) {
    const before = events.get(answerer)!.length;
    const error = await sim.until(caller.connect(destinations, { sips: false })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SipConnectionIdentityError);
    expect(error).toMatchObject({ expected: toHex(b.node.nodeId), actual: toHex(answerer.node.nodeId) });
    await sim.run(200);
    // The answerer did get the flow (the RELOAD checks passed) — and it was closed, by the caller.
    const flows = events.get(answerer)!.slice(before);
    expect(flows).toHaveLength(1);
    expect(flows[0]!.transport.closed).toBe(true);
    expect(caller.status().open).toEqual([]);
    expect(caller.status().failures.at(-1)).toMatchObject({
      peer: toHex(b.node.nodeId),
      error: 'SipConnectionIdentityError',
    });
  }

  it('closes the connection when the first hop A of [A, B] answers instead of B', async () => {
    await refused(
      [
        { type: 'node', id: a.node.nodeId },
        { type: 'node', id: b.node.nodeId },
      ],
      a,
    );
  });

  it('closes the connection when the node responsible for a Resource-ID answers for it in a list ending in B', async () => {
    // C is responsible for a Resource-ID equal to its own Node-ID (the first Node-ID at or after it).
    expect(sim.responsibleFor(c.node.nodeId)).toBe(c);
    // Fresh caller state: the failure above put B in backoff.
    caller.stop();
    caller = new SipConnections({ node: firstHopAnswers(sim.nodes[0]!.node), clock: sim.clock });
    caller.start();
    all.push(caller);
    await refused(
      [
        { type: 'resource', id: c.node.nodeId },
        { type: 'node', id: b.node.nodeId },
      ],
      c,
    );
  });

  it('uses the connection when the answerer is the last destination; honest routing of [A, B] reaches B', async () => {
    caller.stop();
    caller = new SipConnections({ node: sim.nodes[0]!.node, clock: sim.clock });
    caller.start();
    all.push(caller);
    const transport = await sim.until(caller.connect([{ type: 'node', id: b.node.nodeId }], { sips: false }));
    expect(transport.closed).toBe(false);
    expect(transport.party).toMatchObject({ kind: 'overlay', nodeId: b.node.nodeId });
    const routed = await sim.until(
      caller.connect(
        [
          { type: 'node', id: a.node.nodeId },
          { type: 'node', id: b.node.nodeId },
        ],
        { sips: true },
      ),
    );
    expect(routed.closed).toBe(false);
    expect(routed.party).toMatchObject({ kind: 'overlay', nodeId: b.node.nodeId });
    expect(routed.applicationId).toBe(5061);
  });
});
