/**
 * DTLS Finished verification (RFC 5246 §7.4.9, RFC 6347 §4.2.6): each side computes the verify_data the
 * peer's Finished must carry (PRF over the master secret and its own transcript, "client finished" /
 * "server finished", 12 bytes) and aborts with a fatal decrypt_error alert (51) when it differs; this is
 * what detects a handshake message altered on the way (ServerHello, ClientHello extensions, ...).
 * Published werift-dtls checks neither side: the server only logs the client's Finished and the client
 * counts any Finished, even a plaintext one before the key exchange, as "connected".
 *
 * The misbehaving peer is a bare werift endpoint on its own UDP socket with honest credentials (a node of
 * our CA with its own key) whose Finished is spoilt: its CipherContext instance's verifyData (used only to
 * build its own Finished) is replaced, for that instance only.
 *
 * Against werift-dtls with only the earlier patch (CertificateVerify / ServerKeyExchange checks), every test
 * below but the control failed: connect resolved with a DtlsLink, the server handed out a link to
 * node2@links.example.org, and the server session's handshake resolved with the client's certificate.
 */
import type { Socket } from 'node:dgram';
import type { KeyObject } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DtlsClient } from 'werift-dtls/lib/dtls/src/index.js';
import { realClock } from '../../src-main/reload/clock';
import { generateIdentityKeys } from '../../src-main/reload/identity';
import type { Link } from '../../src-main/reload/link/link';
import type { DtlsAddress } from '../../src-main/reload/link/dtls/dtls-endpoint';
import {
  credentialsFor,
  DtlsFinishedMismatchError,
  DtlsSession,
  DtlsUnexpectedFinishedError,
} from '../../src-main/reload/link/dtls/dtls-session';
import { bareWeriftPeer, dtlsEndpoint, sleep, udpSocket, until, type WeriftSocket } from '../support/dtls-peers';
import { makeNodes, type TestNode, type TestNodes } from '../support/node-identities';

const ALERT = 21;
const HANDSHAKE = 22;
const SERVER_HELLO_DONE = 14;
const DECRYPT_ERROR = 51;

let ids: TestNodes;
let impostorKey: KeyObject;
const sockets: Socket[] = [];
beforeAll(async () => {
  ids = await makeNodes(3);
  impostorKey = (await generateIdentityKeys('ecdsa')).privateKey;
});
afterAll(() => {
  for (const s of sockets) s.close();
});

const endpoint = (node: TestNode) => dtlsEndpoint(node, ids.policy);

/** How the bare peer spoils the verify_data of its own Finished. */
type Tamper = 'none' | 'verify-data' | 'transcript';

function spoilFinished(socket: WeriftSocket, tamper: Tamper): void {
  if (tamper === 'none') return;
  const { cipher } = socket;
  const honest = cipher.verifyData.bind(cipher);
  cipher.verifyData = (transcript: Buffer) => {
    if (tamper === 'verify-data') {
      const spoilt = Buffer.from(honest(transcript));
      spoilt[5]! ^= 0x01; // one bit of one byte of the 12
      return spoilt;
    }
    // The verify_data of a handshake whose ServerHello was altered on the way (its random's last byte), as
    // the peer would compute it over the transcript it saw.
    const altered = Buffer.concat(
      socket.dtls.sortedHandshakeCache.map((h) => {
        const bytes = Buffer.from(h.serialize());
        if (h.msg_type === 2) bytes[12 + 2 + 31]! ^= 0x01;
        return bytes;
      }),
    );
    if (altered.length !== transcript.length || altered.equals(transcript))
      throw new Error('test setup: the transcript holds no ServerHello');
    return honest(altered);
  };
}

/**
 * A bare werift peer (node 2, or `key` with node 2's certificate) whose Finished is spoilt by `tamper`.
 * Records the alerts it receives (decrypting those of epoch 1).
 */
async function barePeer(
  role: 'client' | 'server',
  tamper: Tamper,
  options: {
    remote?: DtlsAddress;
    key?: KeyObject;
    outgoing?: (datagram: Buffer) => Buffer[];
  } = {},
) {
  const node = ids.nodes[2]!;
  const { cert, signatureHash } = credentialsFor({ privateKey: node.privateKey, certificate: node.certificate });
  const key = (options.key ?? node.privateKey).export({ format: 'pem', type: 'pkcs8' }) as string;
  const peer = await bareWeriftPeer(sockets, {
    role,
    credentials: { cert, key, signatureHash },
    remote: options.remote,
    outgoing: options.outgoing,
    readAlert: alertOf,
  });
  spoilFinished(peer.dtls, tamper);
  return { ...peer, node };
}

/** The description of the alert record `datagram` starts with; -1 if it does not decrypt. */
function alertOf(socket: WeriftSocket, datagram: Buffer): number {
  const epoch = datagram.readUInt16BE(3);
  const body = datagram.subarray(13, 13 + datagram.readUInt16BE(11));
  if (epoch === 0) return body[1] ?? -1;
  try {
    const { cipher, dtls } = socket;
    const packet = {
      recordLayerHeader: {
        contentType: ALERT,
        protocolVersion: dtls.version,
        epoch,
        sequenceNumber: datagram.readUIntBE(5, 6),
        contentLen: body.length,
      },
      fragment: body,
    } as unknown as Parameters<typeof cipher.decryptPacket>[0];
    return cipher.decryptPacket(packet)[1] ?? -1;
  } catch {
    return -1;
  }
}

/** Our DtlsSession as the server on its own UDP socket; `start` makes it, for the client at `to`. */
async function serverSession(node: TestNode) {
  const udp = await udpSocket(sockets);
  let session: DtlsSession | undefined;
  udp.on('message', (data: Buffer) => session?.receive(new Uint8Array(data)));
  const start = (to: DtlsAddress) => {
    session = new DtlsSession(
      'server',
      { privateKey: node.privateKey, certificate: node.certificate },
      {
        send: (datagram) => new Promise<void>((resolve) => udp.send(datagram, to.port, to.host, () => resolve())),
      },
      to,
    );
    return session;
  };
  return { address: { host: '127.0.0.1', port: udp.address().port }, start };
}

const tampers: [string, Tamper][] = [
  ['one byte of verify_data altered', 'verify-data'],
  ['verify_data computed over another transcript (as if the ServerHello had been altered)', 'transcript'],
];

describe('DTLS Finished verification', () => {
  it('control: an honest bare werift peer completes the handshake both ways', async () => {
    const ea = await endpoint(ids.nodes[0]!);
    const server = await barePeer('server', 'none');
    const link = await ea.connect(server.address, server.node.nodeId);
    expect(link.peer.userName).toBe(server.node.identity.userName);
    await until(() => server.connected(), 'the bare server to connect');

    const eb = await endpoint(ids.nodes[1]!);
    const accepted = new Promise<Link>((resolve) => eb.onLink(resolve));
    const client = await barePeer('client', 'none', { remote: eb.address });
    void (client.dtls as DtlsClient).connect().catch(() => undefined);
    expect((await accepted).peer.userName).toBe(client.node.identity.userName);
    await until(() => client.connected(), 'the bare client to connect');
    await ea.close();
    await eb.close();
  });

  describe.each(tampers)('client-side check: a server Finished with %s', (_, tamper) => {
    it('makes connect reject with DtlsFinishedMismatchError, and the server gets a fatal decrypt_error', async () => {
      const ea = await endpoint(ids.nodes[0]!);
      const server = await barePeer('server', tamper);
      const attempt = ea.connect(server.address, server.node.nodeId);
      await expect(attempt).rejects.toBeInstanceOf(DtlsFinishedMismatchError);
      await expect(attempt).rejects.toThrow(/verify_data does not match/);
      await until(() => server.alerts.length > 0, 'an alert to the server');
      expect(server.alerts).toEqual([DECRYPT_ERROR]);
      expect(ea.associationCount).toBe(0);
      await ea.close();
    });
  });

  describe.each(tampers)('server-side check: a client Finished with %s', (_, tamper) => {
    it('hands out no link, answers with a fatal decrypt_error and never sends its own Finished', async () => {
      const eb = await endpoint(ids.nodes[1]!);
      const accepted: Link[] = [];
      eb.onLink((l) => accepted.push(l));
      const client = await barePeer('client', tamper, { remote: eb.address });
      void (client.dtls as DtlsClient).connect().catch(() => undefined);
      await until(() => client.alerts.length > 0 || accepted.length > 0, 'the handshake outcome');
      expect(accepted.map((l) => l.peer.userName)).toEqual([]);
      expect(client.alerts).toEqual([DECRYPT_ERROR]);
      await sleep(50);
      expect(client.connected()).toBe(false); // our server's Finished never came
      await until(() => eb.associationCount === 0, 'the association to go');
      await eb.close();
    });

    it("rejects the server session's handshake with DtlsFinishedMismatchError", async () => {
      const server = await serverSession(ids.nodes[1]!);
      const client = await barePeer('client', tamper, { remote: server.address });
      const session = server.start(client.address);
      const handshake = session.handshake(realClock, 5000);
      void (client.dtls as DtlsClient).connect().catch(() => undefined);
      await expect(handshake).rejects.toBeInstanceOf(DtlsFinishedMismatchError);
      await expect(handshake).rejects.toMatchObject({ alert: DECRYPT_ERROR });
      expect(session.isEstablished).toBe(false);
      session.dispose();
    });
  });

  /**
   * The unauthenticated case: an impostor with the victim's certificate (not its key) sends ServerHello,
   * Certificate, ServerKeyExchange and CertificateRequest, then a plaintext Finished with any 12 bytes
   * instead of ServerHelloDone. Published werift counted that Finished as the end of the handshake, before
   * the client checked the key exchange or even had keys, and reported the victim's certificate as the peer's.
   */
  it('a plaintext Finished before the key exchange does not complete the client handshake', async () => {
    const ea = await endpoint(ids.nodes[0]!);
    const forgedFinished = Buffer.concat([
      Buffer.from([HANDSHAKE, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 9, 0, 24]),
      Buffer.from([20, 0, 0, 12, 0, 5, 0, 0, 0, 0, 0, 12]),
      Buffer.alloc(12, 0xab),
    ]);
    const impostor = await barePeer('server', 'none', {
      key: impostorKey,
      outgoing: (datagram) =>
        datagram[0] === HANDSHAKE && datagram[13] === SERVER_HELLO_DONE ? [forgedFinished] : [datagram],
    });
    const attempt = ea.connect(impostor.address, impostor.node.nodeId);
    await expect(attempt).rejects.toBeInstanceOf(DtlsUnexpectedFinishedError);
    await expect(attempt).rejects.toThrow(/before the key exchange/);
    expect(ea.associationCount).toBe(0);
    await ea.close();
  });
});
