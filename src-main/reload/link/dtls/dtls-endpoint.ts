/**
 * DTLS-UDP-SR-NO-ICE links (RFC 6940 §6.6.1, §6.5.1.11): DTLS 1.2 over UDP with Simple Reliability and
 * mutual certificate authentication. One UDP socket serves every peer; datagrams are told apart by the
 * peer's address and port, and only a ClientHello from an unknown address opens a new association. The
 * connecting side is the DTLS client; RFC 6940 makes the Attach requester the DTLS server, so the layer
 * that runs Attach decides who calls `connect`. As with TLS, werift (patched: see dtls-session.ts) proves
 * that each side holds the key of the certificate it presents; the certificate itself is judged by the
 * overlay's TrustPolicy, and the peer's Node-IDs come from it alone.
 */
import { appendFileSync } from 'node:fs';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { KeyObject } from 'node:crypto';
import { realClock, type Clock } from '../../clock';
import { bytesEqual, DATA_FRAME_HEADER_LENGTH } from '../../wire';
import { CertificateRejectedError, type TrustPolicy, type ValidatedIdentity } from '../../identity';
import { LinkConnectError, PeerRejectedError, type Link, type LinkEndpoint } from '../link';
import { DtlsLink } from './dtls-link';
import {
  ALERT_CLOSE_NOTIFY,
  credentialsFor,
  DtlsSession,
  isClientHello,
  looksLikeDtls,
  MAX_RECORD_PLAINTEXT,
  type DtlsCredentials,
} from './dtls-session';

export interface DtlsEndpointOptions {
  privateKey: KeyObject;
  /** Our certificate, then any chain (werift sends only the first). */
  certificates: Uint8Array[];
  policy: TrustPolicy;
  /** Configuration max-message-size; capped so that one data frame fits one DTLS record. */
  maxMessageSize?: number;
  clock?: Clock;
  /** NSS key log for Wireshark (defaults to $SSLKEYLOGFILE); never set in production. */
  keyLogFile?: string;
  host?: string;
  port?: number;
  /** A handshake not finished by then fails (default 10 s). */
  handshakeTimeoutMs?: number;
  /** Handshakes in progress at once, against floods of ClientHellos (default 64). */
  maxPendingHandshakes?: number;
  /** Simple Reliability's RTO before the first RTT sample (default 500 ms). */
  initialRtoMs?: number;
}

export interface DtlsAddress {
  host: string;
  port: number;
}

/** The largest message one DTLS record can carry in a data frame. */
export const DTLS_MAX_MESSAGE_SIZE = MAX_RECORD_PLAINTEXT - DATA_FRAME_HEADER_LENGTH;

interface Association {
  session: DtlsSession;
  link?: DtlsLink;
  /** A new handshake from the same address (the peer restarted?): replaces this one if it completes. */
  successor?: DtlsSession;
}

export class DtlsEndpoint implements LinkEndpoint {
  readonly type = 'DTLS-UDP-SR-NO-ICE' as const;
  private readonly listeners = new Set<(link: Link) => void>();
  private readonly associations = new Map<string, Association>();
  private readonly credentials: DtlsCredentials;
  private readonly clock: Clock;
  private pendingHandshakes = 0;
  private open = true;

  private constructor(
    private readonly options: DtlsEndpointOptions,
    private readonly socket: Socket,
    readonly address: DtlsAddress,
  ) {
    const certificate = options.certificates[0];
    if (!certificate) throw new Error('a DTLS endpoint needs a certificate');
    this.credentials = { privateKey: options.privateKey, certificate };
    this.clock = options.clock ?? realClock;
  }

  static async listen(options: DtlsEndpointOptions): Promise<DtlsEndpoint> {
    const certificate = options.certificates[0];
    if (!certificate) throw new Error('a DTLS endpoint needs a certificate');
    credentialsFor({ privateKey: options.privateKey, certificate }); // refuses a key that does not fit
    const host = options.host ?? '127.0.0.1';
    const socket = createSocket({ type: isIP(host) === 6 ? 'udp6' : 'udp4' });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(options.port ?? 0, host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    const info = socket.address();
    const endpoint = new DtlsEndpoint(options, socket, { host: info.address, port: info.port });
    socket.on('message', (datagram, remote) => endpoint.datagram(datagram, remote));
    socket.on('error', () => undefined); // ICMP errors on send and the like: the links notice by themselves
    return endpoint;
  }

  get maxMessageSize(): number {
    return Math.min(this.options.maxMessageSize ?? 5000, DTLS_MAX_MESSAGE_SIZE);
  }

  onLink(listener: (link: Link) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async connect(address: unknown, expectedNodeId?: Uint8Array): Promise<Link> {
    if (!this.open) throw new LinkConnectError('the DTLS endpoint is closed');
    const { host, port } = address as DtlsAddress;
    const remote = { host: isIP(host) ? host : (await lookup(host)).address, port };
    const key = keyOf(remote.host, remote.port);
    const existing = this.associations.get(key);
    if (existing) {
      // One association per address (RFC 6347): an open link to it is the link to return.
      const link = existing.link;
      if (link && !link.closed) {
        if (expectedNodeId && !link.peer.nodeIds.some((id) => bytesEqual(id, expectedNodeId)))
          throw new PeerRejectedError('the peer at that address does not carry the Node-ID we attached to');
        return link;
      }
      throw new LinkConnectError(`a DTLS handshake with ${remote.host}:${remote.port} is already under way`);
    }
    const session = this.session('client', remote);
    this.associations.set(key, { session });
    let peer: ValidatedIdentity;
    try {
      const certificate = await session.handshake(this.clock, this.options.handshakeTimeoutMs ?? 10_000);
      peer = this.judge(certificate);
      if (expectedNodeId && !peer.nodeIds.some((id) => bytesEqual(id, expectedNodeId)))
        throw new PeerRejectedError('the peer certificate does not carry the Node-ID we attached to');
    } catch (error) {
      if (session.isEstablished) await session.sendAlert(1, ALERT_CLOSE_NOTIFY);
      session.dispose();
      this.forget(key, session);
      throw error;
    }
    return this.adopt(key, session, peer);
  }

  /** How many peers have an association (handshaking or linked), for diagnostics. */
  get associationCount(): number {
    return this.associations.size;
  }

  async close(): Promise<void> {
    if (!this.open) return;
    this.open = false;
    const links: Link[] = [];
    for (const { session, link, successor } of this.associations.values()) {
      successor?.dispose();
      if (link) links.push(link);
      else session.dispose();
    }
    await Promise.all(links.map((l) => l.close()));
    this.associations.clear();
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  private datagram(datagram: Buffer, remote: RemoteInfo): void {
    if (!looksLikeDtls(datagram)) return;
    const bytes = new Uint8Array(datagram.buffer, datagram.byteOffset, datagram.byteLength);
    const key = keyOf(remote.address, remote.port);
    const association = this.associations.get(key);
    const opens =
      this.open && isClientHello(bytes) && this.pendingHandshakes < (this.options.maxPendingHandshakes ?? 64);
    if (!association) {
      if (opens) this.accept(key, { host: remote.address, port: remote.port }, bytes);
      return;
    }
    // A ClientHello on an established association: the peer may have restarted on the same address. The
    // old association stays until a new handshake completes (RFC 6347 §4.2.8), so a forged ClientHello
    // costs nothing but a handshake that times out.
    if (association.successor) association.successor.receive(bytes);
    else if (opens && association.session.isEstablished)
      this.accept(key, { host: remote.address, port: remote.port }, bytes, association);
    association.session.receive(bytes);
  }

  /** Runs the server side of a handshake that `hello` starts; a link comes out if the peer is acceptable. */
  private accept(key: string, remote: DtlsAddress, hello: Uint8Array, replacing?: Association): void {
    const session = this.session('server', remote);
    if (replacing) replacing.successor = session;
    else this.associations.set(key, { session });
    this.pendingHandshakes++;
    session
      .handshake(this.clock, this.options.handshakeTimeoutMs ?? 10_000)
      .then(
        (certificate) => {
          let peer: ValidatedIdentity;
          try {
            if (!this.open) throw new LinkConnectError('the DTLS endpoint is closed');
            peer = this.judge(certificate);
          } catch {
            void session.sendAlert(1, ALERT_CLOSE_NOTIFY).finally(() => session.dispose());
            this.forget(key, session);
            return;
          }
          const previous = this.associations.get(key);
          const link = this.adopt(key, session, peer);
          if (previous && previous.session !== session) {
            if (previous.link) previous.link.supersede();
            else previous.session.dispose();
          }
          for (const listener of [...this.listeners]) listener(link);
        },
        () => this.forget(key, session), // refused or failed: the session already told the peer
      )
      .finally(() => this.pendingHandshakes--);
    session.receive(hello);
  }

  private session(role: 'client' | 'server', remote: DtlsAddress): DtlsSession {
    return new DtlsSession(
      role,
      this.credentials,
      {
        send: (datagram) =>
          new Promise<void>((resolve, reject) =>
            this.socket.send(datagram, remote.port, remote.host, (error) => (error ? reject(error) : resolve())),
          ),
      },
      remote,
    );
  }

  private judge(certificate: Uint8Array): ValidatedIdentity {
    try {
      return this.options.policy.validate(certificate);
    } catch (error) {
      if (error instanceof CertificateRejectedError)
        throw new PeerRejectedError(`peer certificate refused: ${error.message}`);
      throw error;
    }
  }

  private adopt(key: string, session: DtlsSession, peer: ValidatedIdentity): DtlsLink {
    this.keyLog(session);
    const link = new DtlsLink(session, peer, {
      type: this.type,
      maxMessageSize: this.maxMessageSize,
      clock: this.clock,
      initialRtoMs: this.options.initialRtoMs ?? 500,
      onClosed: () => this.forget(key, session),
    });
    this.associations.set(key, { session, link });
    return link;
  }

  /** Lets go of a session that ended; a successor waiting behind it takes its place. */
  private forget(key: string, session: DtlsSession): void {
    const association = this.associations.get(key);
    if (!association) return;
    if (association.successor === session) association.successor = undefined;
    else if (association.session !== session) return;
    else if (association.successor) this.associations.set(key, { session: association.successor });
    else this.associations.delete(key);
  }

  private keyLog(session: DtlsSession): void {
    const file = this.options.keyLogFile ?? process.env.SSLKEYLOGFILE;
    const line = file ? session.keyLogLine() : undefined;
    if (file && line) appendFileSync(file, line);
  }
}

const keyOf = (host: string, port: number) => `${host}|${port}`;
