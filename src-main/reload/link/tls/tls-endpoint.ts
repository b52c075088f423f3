/**
 * TLS-TCP-FH-NO-ICE links (RFC 6940 §6.6.1): TLS 1.2 over TCP with mutual certificate authentication and
 * the framing header. Node's TLS proves that each side holds the key of the certificate it presents; the
 * certificate itself is judged by the overlay's TrustPolicy (root-cert or self-signed rules, Node-IDs), not
 * by Node's chain and host-name checks, which know nothing of reload:// identities. The peer's Node-IDs come
 * from its verified certificate only.
 */
import { appendFileSync } from 'node:fs';
import { connect as tlsConnect, createServer, type Server, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { KeyObject } from 'node:crypto';
import { realClock, type Clock } from '../../clock';
import { bytesEqual } from '../../wire';
import { CertificateRejectedError, type TrustPolicy, type ValidatedIdentity } from '../../identity';
import { LinkConnectError, PeerRejectedError, type Link, type LinkEndpoint } from '../link';
import { TlsLink } from './tls-link';

export interface TlsEndpointOptions {
  privateKey: KeyObject;
  /** Our certificate, then any chain to send. */
  certificates: Uint8Array[];
  policy: TrustPolicy;
  /** Configuration max-message-size. */
  maxMessageSize?: number;
  clock?: Clock;
  /** A frame unacknowledged this long means the link is dead (RFC 6940: 30 s recommended). */
  deadAfterMs?: number;
  /** NSS key log for Wireshark (defaults to $SSLKEYLOGFILE); never set in production. */
  keyLogFile?: string;
  host?: string;
  port?: number;
}

export interface TlsAddress {
  host: string;
  port: number;
}

const pem = (der: Uint8Array) =>
  `-----BEGIN CERTIFICATE-----\n${Buffer.from(der).toString('base64')}\n-----END CERTIFICATE-----\n`;

export class TlsEndpoint implements LinkEndpoint {
  readonly type = 'TLS-TCP-FH-NO-ICE' as const;
  private readonly listeners = new Set<(link: Link) => void>();
  private readonly links = new Set<Link>();

  private constructor(
    private readonly options: TlsEndpointOptions,
    private readonly server: Server,
    readonly address: TlsAddress,
  ) {}

  static async listen(options: TlsEndpointOptions): Promise<TlsEndpoint> {
    const server = createServer({
      key: options.privateKey.export({ format: 'pem', type: 'pkcs8' }),
      cert: options.certificates.map(pem).join(''),
      requestCert: true,
      rejectUnauthorized: false, // judged by the TrustPolicy below
      minVersion: 'TLSv1.2',
      maxVersion: 'TLSv1.2',
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
    });
    const info = server.address() as AddressInfo;
    const endpoint = new TlsEndpoint(options, server, { host: info.address, port: info.port });
    server.on('secureConnection', (socket) => endpoint.accepted(socket));
    server.on('tlsClientError', () => undefined); // a failed handshake is the peer's problem
    endpoint.keyLog(server);
    return endpoint;
  }

  onLink(listener: (link: Link) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async connect(address: unknown, expectedNodeId?: Uint8Array): Promise<Link> {
    const { host, port } = address as TlsAddress;
    const socket = await new Promise<TLSSocket>((resolve, reject) => {
      const s = tlsConnect({
        host,
        port,
        key: this.options.privateKey.export({ format: 'pem', type: 'pkcs8' }),
        cert: this.options.certificates.map(pem).join(''),
        rejectUnauthorized: false, // judged by the TrustPolicy below
        checkServerIdentity: () => undefined,
        minVersion: 'TLSv1.2',
        maxVersion: 'TLSv1.2',
      });
      this.keyLog(s);
      s.once('secureConnect', () => resolve(s));
      s.once('error', (error) =>
        reject(new LinkConnectError(`TLS connection to ${host}:${port} failed: ${error.message}`, { cause: error })),
      );
    });
    let peer: ValidatedIdentity;
    try {
      peer = this.judge(socket);
    } catch (error) {
      socket.destroy();
      throw error;
    }
    if (expectedNodeId && !peer.nodeIds.some((id) => bytesEqual(id, expectedNodeId))) {
      socket.destroy();
      throw new PeerRejectedError('the peer certificate does not carry the Node-ID we attached to');
    }
    return this.adopt(socket, peer);
  }

  async close(): Promise<void> {
    await Promise.all([...this.links].map((l) => l.close()));
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accepted(socket: TLSSocket): void {
    let peer: ValidatedIdentity;
    try {
      peer = this.judge(socket);
    } catch {
      socket.destroy();
      return;
    }
    const link = this.adopt(socket, peer);
    for (const listener of [...this.listeners]) listener(link);
  }

  private judge(socket: TLSSocket): ValidatedIdentity {
    const cert = socket.getPeerX509Certificate();
    if (!cert) throw new PeerRejectedError('the peer presented no certificate');
    try {
      return this.options.policy.validate(new Uint8Array(cert.raw));
    } catch (error) {
      if (error instanceof CertificateRejectedError)
        throw new PeerRejectedError(`peer certificate refused: ${error.message}`);
      throw error;
    }
  }

  private adopt(socket: TLSSocket, peer: ValidatedIdentity): Link {
    const link = new TlsLink(socket, peer, {
      maxMessageSize: this.options.maxMessageSize ?? 5000,
      clock: this.options.clock ?? realClock,
      deadAfterMs: this.options.deadAfterMs ?? 30_000,
    });
    this.links.add(link);
    link.onClose(() => this.links.delete(link));
    return link;
  }

  private keyLog(emitter: Server | TLSSocket): void {
    const file = this.options.keyLogFile ?? process.env.SSLKEYLOGFILE;
    if (file) emitter.on('keylog', (line: Buffer) => appendFileSync(file, line));
  }
}
