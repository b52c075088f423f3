/** TLS over TCP links on loopback: compliance, mutual authentication, Node-ID checks, dead-link detection. */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Link } from '../../src-main/reload/link/link';
import { TlsEndpoint } from '../../src-main/reload/link/tls/tls-endpoint';
import { makeNodes, type TestNode, type TestNodes } from '../support/node-identities';
import { describeLinkCompliance } from './link-compliance';
import { describeLinkSecurity } from './link-security';

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

describeLinkSecurity(
  'TLS',
  (node, policy) => endpoint(node, policy),
  () => ({ ids, foreign }),
  false,
);

describe('TLS link liveness', () => {
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
