/** The in-memory link passes the link compliance suite on a virtual clock, and models network conditions. */
import { beforeAll, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src-main/reload/clock';
import { MemoryNetwork, type LinkConditions } from '../../src-main/reload/link/memory/memory-network';
import { LinkCongestedError, type Link } from '../../src-main/reload/link/link';
import { makeNodes, type TestNodes } from '../support/node-identities';
import { describeLinkCompliance, type LinkPair } from './link-compliance';

let ids: TestNodes;
beforeAll(async () => {
  ids = await makeNodes(2);
});

async function pair(conditions: LinkConditions = { latencyMs: 5, jitterMs: 0, loss: 0, bandwidth: 1_000_000 }) {
  const clock = new VirtualClock();
  const net = new MemoryNetwork(clock, conditions, 7);
  const [na, nb] = ids.nodes as [TestNodes['nodes'][0], TestNodes['nodes'][0]];
  const ea = net.endpoint('a', na.identity);
  const eb = net.endpoint('b', nb.identity);
  let accepted: Link | undefined;
  eb.onLink((l) => (accepted = l));
  const a = await ea.connect('b', nb.nodeId);
  const harness: LinkPair = {
    a,
    b: accepted as Link,
    aNodeId: na.nodeId,
    bNodeId: nb.nodeId,
    tick: async () => clock.advance(10),
    teardown: async () => {
      await ea.close();
      await eb.close();
    },
  };
  return { harness, clock, net, ea, eb };
}

describeLinkCompliance('memory', async () => (await pair()).harness);

describe('memory network conditions', () => {
  it('delays by latency and serialisation time on the virtual clock', async () => {
    const { harness, clock } = await pair({ latencyMs: 50, jitterMs: 0, loss: 0, bandwidth: 10_000 });
    const at: number[] = [];
    harness.b.onMessage(() => at.push(clock.now()));
    await harness.a.send(new Uint8Array(1000)); // 100 ms on the wire at 10 kB/s
    await harness.a.send(new Uint8Array(1000));
    clock.runUntilIdle();
    expect(at).toEqual([150, 250]);
  });

  it('counts bytes still being serialised as queued, fewer as the virtual clock advances', async () => {
    const { harness, clock } = await pair({ latencyMs: 50, jitterMs: 0, loss: 0, bandwidth: 10_000 });
    expect(harness.a.queuedBytes).toBe(0);
    for (let i = 0; i < 3; i++) await harness.a.send(new Uint8Array(1000)); // 300 ms on the wire at 10 kB/s
    expect(harness.a.queuedBytes).toBe(3000);
    clock.advance(100);
    expect(harness.a.queuedBytes).toBe(2000);
    clock.advance(150);
    expect(harness.a.queuedBytes).toBe(500);
    harness.a.sendQueueLimit = 1000;
    await expect(harness.a.send(new Uint8Array(600))).rejects.toBeInstanceOf(LinkCongestedError);
    expect(harness.a.stats.congested).toBe(1);
    clock.advance(50);
    expect(harness.a.queuedBytes).toBe(0);
    await harness.a.send(new Uint8Array(600));
    expect(harness.a.queuedBytes).toBe(600);
  });

  it('loses about the configured share and reorders with jitter, deterministically for a seed', async () => {
    const { harness, clock } = await pair({ latencyMs: 10, jitterMs: 40, loss: 0.2, bandwidth: 0 });
    const got: number[] = [];
    harness.b.onMessage((m) => got.push(m[0] as number));
    for (let i = 0; i < 200; i++) await harness.a.send(Uint8Array.of(i));
    clock.runUntilIdle();
    expect(got.length).toBeGreaterThan(140);
    expect(got.length).toBeLessThan(180);
    expect(got).not.toEqual([...got].sort((x, y) => x - y));
  });

  it('refuses to connect to a peer without the expected Node-ID', async () => {
    const { ea } = await pair();
    await expect(ea.connect('b', new Uint8Array(16))).rejects.toThrow(/expected Node-ID/);
    await expect(ea.connect('nowhere')).rejects.toThrow(/nothing listens/);
  });
});
