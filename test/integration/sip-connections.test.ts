/**
 * SipConnections between two real ReloadNodes on loopback (the headless peer's composition root,
 * startPeerRuntime), in both overlay modes: ICE (each AppAttach its own ICE agent, then DTLS: datagram
 * framing, Via token DTLS) and No-ICE (a TLS flow: stream framing, Via token TLS, CRLF keepalive). A sends an
 * OPTIONS to B over a SIP AppAttach connection and B answers 200 on the same connection; a second request
 * reuses it (no second AppAttach at B).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src-main/common/logger';
import { parseConfigurationDocument, signedConfigurationDocument } from '../../src-main/reload/config';
import { generateIdentityKeys, issueCertificate } from '../../src-main/reload/identity';
import { realClock } from '../../src-main/reload/clock';
import { startPeerRuntime, type PeerRuntime } from '../../src-main/app/peer/peer-runtime';
import { SipConnections, type SipTransportEvent } from '../../src-main/sip/connections/sip-connections';
import { makeOverlay, OVERLAY } from '../support/overlay-fixture';

const OPTIONS = (n: number) =>
  `OPTIONS sip:peer1@${OVERLAY} SIP/2.0\r\nVia: SIP/2.0/TLS a.invalid;branch=z9hG4bK${n}\r\nMax-Forwards: 70\r\n` +
  `CSeq: ${n} OPTIONS\r\nContent-Length: 0\r\n\r\n`;
const OK = (n: number) =>
  `SIP/2.0 200 OK\r\nVia: SIP/2.0/TLS a.invalid;branch=z9hG4bK${n}\r\nCSeq: ${n} OPTIONS\r\nContent-Length: 0\r\n\r\n`;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
async function until(condition: () => boolean, what: string, ms = 10_000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(20)) if (condition()) return;
  throw new Error(`timed out waiting for ${what}`);
}

describe.each(['ice', 'no-ice'] as const)('SIP connections between real ReloadNodes on loopback (%s)', (mode) => {
  const peers: PeerRuntime[] = [];
  const sips: SipConnections[] = [];
  const events: SipTransportEvent[][] = [[], []];

  beforeAll(async () => {
    const overlay = await makeOverlay();
    const input = { ...overlay.input, noIce: mode === 'no-ice', bootstrapNodes: [] };
    const document = signedConfigurationDocument(input, overlay.signer, overlay.signer);
    const config = parseConfigurationDocument(document)[0]!;
    const log = createLogger({ level: 'error' });
    for (let i = 0; i < 2; i++) {
      const keys = await generateIdentityKeys('ecdsa');
      const nodeId = Uint8Array.from({ length: 16 }, (_, k) => (i * 101 + k * 7 + 3) & 0xff);
      const { der } = await issueCertificate({
        ca: overlay.ca,
        publicKey: keys.webcrypto.publicKey,
        userName: `peer${i}@${OVERLAY}`,
        nodeIds: [nodeId],
        overlay: OVERLAY,
        validDays: 2,
      });
      peers.push(
        await startPeerRuntime({
          config,
          privateKey: keys.privateKey,
          chain: [der],
          listen: { host: '127.0.0.1', port: 0 },
          hostAddresses: ['127.0.0.1'],
          log,
        }),
      );
    }
    await peers[0]!.node.start({ firstNode: true });
    await peers[1]!.node.start({ bootstrapNodes: [peers[0]!.address] });
    for (const [i, peer] of peers.entries()) {
      const connections = new SipConnections({
        node: peer.node,
        clock: realClock,
        connectTimeoutMs: 15_000,
        keepaliveIntervalMs: 400,
        pongTimeoutMs: 2_000,
      });
      connections.onTransport((e) => events[i]!.push(e));
      connections.start();
      sips.push(connections);
    }
  }, 60_000);

  afterAll(async () => {
    for (const s of sips) s.stop();
    await Promise.all(peers.map((p) => p.close()));
  }, 30_000);

  it('A sends an OPTIONS and gets its 200 over one SIP connection, reused for a second request', async () => {
    const [a, b] = peers as [PeerRuntime, PeerRuntime];
    const transport = await sips[0]!.connect([{ type: 'node', id: b.node.nodeId }], { sips: false });
    expect(transport.framing).toBe(mode === 'ice' ? 'datagram' : 'stream');
    expect(transport.protocol).toBe(mode === 'ice' ? 'DTLS' : 'TLS');
    expect(transport.party).toEqual({ kind: 'overlay', nodeId: b.node.nodeId, user: `peer1@${OVERLAY}` });
    // SIP travels on the AppAttach flow, not on the overlay link between the two.
    await until(() => events[1]!.length === 1, 'B to get the inbound connection');
    const inbound = events[1]![0]!.transport;
    expect(inbound.direction).toBe('inbound');
    expect(inbound.party).toMatchObject({ kind: 'overlay', user: `peer0@${OVERLAY}` });
    // B, as a UAS: answers each request on the connection it came on.
    inbound.onMessage((m) => {
      const n = Number(/CSeq: (\d+)/.exec(m)?.[1]);
      void inbound.send(OK(n));
    });
    const atA: string[] = [];
    transport.onMessage((m) => atA.push(m));

    await transport.send(OPTIONS(1));
    await until(() => atA.length === 1, 'the 200 to the first OPTIONS');
    expect(atA).toEqual([OK(1)]);

    const again = await sips[0]!.connect([{ type: 'node', id: b.node.nodeId }], { sips: false });
    expect(again).toBe(transport);
    await again.send(OPTIONS(2));
    await until(() => atA.length === 2, 'the 200 to the second OPTIONS');
    expect(atA).toEqual([OK(1), OK(2)]);
    expect(events[1]).toHaveLength(1); // no second AppAttach reached B
    // And B's way back to A is the same connection.
    expect(await sips[1]!.connect([{ type: 'node', id: a.node.nodeId }], { sips: false })).toBe(inbound);
    const status = sips[0]!.status().open;
    expect(status).toHaveLength(1);
    expect(status[0]).toMatchObject({ direction: 'outbound', messagesOut: 2, messagesIn: 2 });

    // Idle: on the TLS stream CRLF pings go out and pongs come back, so nothing closes; on DTLS nothing of
    // ours is sent (the ICE consent checks keep the pair alive).
    await sleep(1_500);
    expect(transport.closed).toBe(false);
    expect(inbound.closed).toBe(false);
    if (mode === 'no-ice') {
      expect(transport.pingsSent + inbound.pingsSent).toBeGreaterThan(0);
      expect(transport.pongsSent + inbound.pongsSent).toBeGreaterThan(0);
    } else expect(transport.pingsSent + inbound.pingsSent).toBe(0);
    expect(atA).toHaveLength(2); // keepalives are no messages
  }, 40_000);
});
