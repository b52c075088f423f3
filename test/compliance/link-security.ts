/**
 * The peer-authentication tests every authenticated link type must pass (alongside link-compliance.ts):
 * a peer whose certificate comes from another CA is refused whether it is the server or the client, and a
 * peer without the Node-ID we meant to reach is refused.
 */
import { describe, expect, it } from 'vitest';
import { TrustPolicy } from '../../src-main/reload/identity';
import { PeerRejectedError, type LinkEndpoint } from '../../src-main/reload/link/link';
import { TEST_OVERLAY, type TestNode, type TestNodes } from '../support/node-identities';

export type Listen = (node: TestNode, policy: TrustPolicy) => Promise<LinkEndpoint & { address: unknown }>;

async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * `identities()` gives the overlay's nodes (at least 3) and one node of a foreign CA, once beforeAll ran.
 * `handshakeCompletesForRogue`: the rogue client's own handshake finishes before our refusal reaches it
 * (DTLS, where the refusal is a close_notify afterwards); over TLS the refusal may also cut the handshake.
 */
export function describeLinkSecurity(
  name: string,
  listen: Listen,
  identities: () => { ids: TestNodes; foreign: TestNodes },
  handshakeCompletesForRogue: boolean,
): void {
  // A rogue that trusts both CAs completes its side of the handshake, so only our own check can refuse it.
  const lenient = () => {
    const { ids, foreign } = identities();
    return new TrustPolicy({
      overlay: TEST_OVERLAY,
      nodeIdLength: 16,
      rootCerts: [foreign.ca.certificate, ids.ca.certificate],
      badNodes: [],
    });
  };

  describe(`${name} link security`, () => {
    it('refuses a server whose certificate comes from another CA', async () => {
      const { ids, foreign } = identities();
      const ea = await listen(ids.nodes[0]!, ids.policy);
      const rogue = await listen(foreign.nodes[0]!, lenient());
      await expect(ea.connect(rogue.address)).rejects.toBeInstanceOf(PeerRejectedError);
      await ea.close();
      await rogue.close();
    });

    it('never hands out a link to a client whose certificate comes from another CA, and cuts it off', async () => {
      const { ids, foreign } = identities();
      const eb = await listen(ids.nodes[1]!, ids.policy);
      let accepted = 0;
      eb.onLink(() => accepted++);
      const rogue = await listen(foreign.nodes[0]!, lenient());
      const attempt = rogue.connect(eb.address);
      const link = handshakeCompletesForRogue ? await attempt : await attempt.catch(() => undefined);
      if (link) await until(() => link.closed, 'the refused link to close');
      expect(accepted).toBe(0);
      await eb.close();
      await rogue.close();
    });

    it('refuses a peer whose certificate does not carry the Node-ID we attached to', async () => {
      const { ids } = identities();
      const ea = await listen(ids.nodes[0]!, ids.policy);
      const eb = await listen(ids.nodes[1]!, ids.policy);
      await expect(ea.connect(eb.address, ids.nodes[2]!.nodeId)).rejects.toThrow(/does not carry the Node-ID/);
      await ea.close();
      await eb.close();
    });
  });
}
