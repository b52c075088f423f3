/** TLS over TCP links on loopback: compliance, mutual authentication, Node-ID checks, dead-link detection. */
import { beforeAll, describe, expect, it } from 'vitest';
import { PeerRejectedError, type Link } from '../../src-main/reload/link/link';
import { TlsEndpoint } from '../../src-main/reload/link/tls/tls-endpoint';
import { TrustPolicy } from '../../src-main/reload/identity';
import { makeNodes, TEST_OVERLAY, type TestNode, type TestNodes } from '../support/node-identities';
import { describeLinkCompliance } from './link-compliance';

let ids: TestNodes;
let foreign: TestNodes;
beforeAll(async () => {
  ids = await makeNodes(3);
  foreign = await makeNodes(1);
});

const endpoint = (node: TestNode, policy = ids.policy) =>
  TlsEndpoint.listen({ privateKey: node.privateKey, certificates: [node.certificate], policy, maxMessageSize: 5000 });

async function connected() {
  const [na, nb] = ids.nodes as [TestNode, TestNode];
  const ea = await endpoint(na);
  const eb = await endpoint(nb);
  const accepted = new Promise<Link>((resolve) => eb.onLink(resolve));
  const a = await ea.connect(eb.address, nb.nodeId);
  const b = await accepted;
  return { a, b, ea, eb, na, nb };
}

describeLinkCompliance('TLS-TCP-FH-NO-ICE', async () => {
  const { a, b, ea, eb, na, nb } = await connected();
  return {
    a,
    b,
    aNodeId: na.nodeId,
    bNodeId: nb.nodeId,
    tick: () => new Promise((resolve) => setTimeout(resolve, 5)),
    teardown: async () => {
      await ea.close();
      await eb.close();
    },
  };
});

describe('TLS link security', () => {
  it('refuses a server whose certificate comes from another CA', async () => {
    const ea = await endpoint(ids.nodes[0]!);
    // The rogue server accepts us (it trusts both CAs), so only our own check can refuse it.
    const lenient = new TrustPolicy({
      overlay: TEST_OVERLAY,
      nodeIdLength: 16,
      rootCerts: [foreign.ca.certificate, ids.ca.certificate],
      badNodes: [],
    });
    const rogue = await endpoint(foreign.nodes[0]!, lenient);
    await expect(ea.connect(rogue.address)).rejects.toBeInstanceOf(PeerRejectedError);
    await ea.close();
    await rogue.close();
  });

  it('drops a client whose certificate comes from another CA', async () => {
    const eb = await endpoint(ids.nodes[1]!);
    let accepted = 0;
    eb.onLink(() => accepted++);
    const rogue = await endpoint(foreign.nodes[0]!, foreign.policy);
    // The rogue accepts our server (it trusts nothing of ours, but judge both ways): its side may connect,
    // our server must never hand out a link.
    await rogue.connect(eb.address).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 100));
    expect(accepted).toBe(0);
    await eb.close();
    await rogue.close();
  });

  it('refuses a peer whose certificate does not carry the Node-ID we attached to', async () => {
    const ea = await endpoint(ids.nodes[0]!);
    const eb = await endpoint(ids.nodes[1]!);
    await expect(ea.connect(eb.address, ids.nodes[2]!.nodeId)).rejects.toThrow(/does not carry the Node-ID/);
    await ea.close();
    await eb.close();
  });

  it('declares a link dead when frames go unacknowledged', async () => {
    const [na, nb] = ids.nodes as [TestNode, TestNode];
    const ea = await TlsEndpoint.listen({
      privateKey: na.privateKey,
      certificates: [na.certificate],
      policy: ids.policy,
      deadAfterMs: 200,
    });
    const eb = await endpoint(nb);
    const accepted = new Promise<Link>((resolve) => eb.onLink(resolve));
    const a = await ea.connect(eb.address);
    const b = await accepted;
    // Freeze the far side: its socket stops reading, so no acks come back.
    (b as unknown as { socket: { pause(): void } }).socket.pause();
    const reasons: string[] = [];
    a.onClose((r) => reasons.push(r));
    await a.send(new Uint8Array(10));
    await new Promise((r) => setTimeout(r, 500));
    expect(reasons).toEqual(['dead']);
    await ea.close();
    await eb.close();
  });
});
