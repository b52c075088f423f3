/**
 * DTLS endpoints for loopback tests: ours (a DtlsEndpoint with a test node's identity) and bare werift peers
 * on their own UDP sockets, which attack tests make misbehave (another node's certificate, a key that does
 * not match it, a spoilt Finished, datagrams dropped or replaced on the way out).
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { DtlsClient, DtlsServer, type SignatureHash } from 'werift-dtls/lib/dtls/src/index.js';
import type { TrustPolicy } from '../../src-main/reload/identity';
import {
  DtlsEndpoint,
  type DtlsAddress,
  type DtlsEndpointOptions,
} from '../../src-main/reload/link/dtls/dtls-endpoint';
import type { TestNode } from './node-identities';

const ALERT = 21;

/** Our DTLS endpoint for `node` on loopback: 5000-byte messages, handshakes bounded at 5 s. */
export const dtlsEndpoint = (node: TestNode, policy: TrustPolicy, extra: Partial<DtlsEndpointOptions> = {}) =>
  DtlsEndpoint.listen({
    privateKey: node.privateKey,
    certificates: [node.certificate],
    policy,
    maxMessageSize: 5000,
    handshakeTimeoutMs: 5000,
    ...extra,
  });

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `condition` every 5 ms; fails naming `what` after `timeoutMs`. */
export async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** A UDP socket bound on loopback, added to `sockets` for the test file to close at the end. */
export async function udpSocket(sockets: Socket[]): Promise<Socket> {
  const socket = createSocket('udp4');
  sockets.push(socket);
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return socket;
}

export type WeriftSocket = DtlsClient | DtlsServer;

export interface BarePeerOptions {
  role: 'client' | 'server';
  /** What werift presents and signs with; the key need not belong to the certificate. */
  credentials: { cert: string; key: string; signatureHash: SignatureHash };
  /** Where a client sends; without it the peer answers whoever writes to it first. */
  remote?: DtlsAddress;
  /** Every datagram werift sends goes through this, which may drop it or send others instead. */
  outgoing?: (datagram: Buffer) => Buffer[];
  /** The description of a received alert record, or undefined to leave it unrecorded. */
  readAlert: (dtls: WeriftSocket, datagram: Buffer) => number | undefined;
}

/** A bare werift peer on its own UDP socket (from `sockets`), with no checks of ours in the way. */
export async function bareWeriftPeer(sockets: Socket[], options: BarePeerOptions) {
  const udp = await udpSocket(sockets);
  const alerts: number[] = [];
  let peer = options.remote;
  const transport = {
    type: 'udp',
    closed: false,
    address: udp.address(),
    onData: (() => undefined) as (data: Buffer, addr: unknown) => void,
    send: async (data: Buffer) => {
      if (!peer) return;
      for (const datagram of options.outgoing?.(data) ?? [data]) {
        try {
          udp.send(datagram, peer.port, peer.host);
        } catch {
          // closed at the end of the test while werift still retransmits
        }
      }
    },
    close: async () => undefined,
  };
  const weriftOptions = {
    transport: transport as unknown as ConstructorParameters<typeof DtlsClient>[0]['transport'],
    ...options.credentials,
    certificateRequest: true,
  };
  const dtls: WeriftSocket = options.role === 'client' ? new DtlsClient(weriftOptions) : new DtlsServer(weriftOptions);
  udp.on('message', (data: Buffer, from: RemoteInfo) => {
    peer ??= { host: from.address, port: from.port };
    if (data[0] === ALERT) {
      const alert = options.readAlert(dtls, data);
      if (alert !== undefined) alerts.push(alert);
    }
    transport.onData(data, from);
  });
  let connectedFlag = false;
  dtls.onConnect.subscribe(() => (connectedFlag = true));
  return {
    dtls,
    alerts,
    address: { host: '127.0.0.1', port: udp.address().port },
    connected: () => connectedFlag,
  };
}
