/**
 * Sends sample messages from one of our endpoints to another over a real link while tshark captures, with
 * the key log on, for the link oracles (TLS and DTLS). Returns the capture file and the server's port.
 */
import type { KeyObject } from 'node:crypto';
import type { TrustPolicy } from '../../../src-main/reload/identity';
import type { Link, LinkEndpoint } from '../../../src-main/reload/link/link';
import { makeNodes } from '../../support/node-identities';
import type { Sample } from './sample-messages';

export type ListenWithKeyLog = (options: {
  privateKey: KeyObject;
  certificates: Uint8Array[];
  policy: TrustPolicy;
  keyLogFile: string;
}) => Promise<LinkEndpoint & { address: { port: number } }>;

export async function captureLinkTraffic(
  listen: ListenWithKeyLog,
  capture: (port: number, traffic: () => Promise<void>) => Promise<string>,
  samples: readonly Sample[],
  keyLogFile: string,
): Promise<{ pcap: string; port: number }> {
  const ids = await makeNodes(2);
  const [server, client] = await Promise.all(
    ids.nodes
      .slice(0, 2)
      .reverse()
      .map((n) => listen({ privateKey: n.privateKey, certificates: [n.certificate], policy: ids.policy, keyLogFile })),
  );
  if (!server || !client) throw new Error('two endpoints expected');
  try {
    const port = server.address.port;
    const pcap = await capture(port, async () => {
      const accepted = new Promise<Link>((resolve) => server.onLink(resolve));
      const link = await client.connect(server.address);
      const far = await accepted;
      let received = 0;
      far.onMessage(() => received++);
      for (const s of samples) await link.send(s.bytes);
      for (let i = 0; i < 500 && received < samples.length; i++) await new Promise((r) => setTimeout(r, 10));
      await link.close();
    });
    return { pcap, port };
  } finally {
    await client.close();
    await server.close();
  }
}
