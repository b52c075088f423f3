/**
 * TLS-TCP-FH-NO-ICE links (RFC 6940 §6.6.1): TLS 1.2 over TCP with mutual certificate authentication and
 * the framing header. Node's TLS proves that each side holds the key of the certificate it presents; the
 * certificate itself is judged by the overlay's TrustPolicy (root-cert or self-signed rules, Node-IDs), not
 * by Node's chain and host-name checks, which know nothing of reload:// identities. The peer's Node-IDs come
 * from its verified certificate only.
 */
import { createServer, type Server, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { KeyObject } from 'node:crypto';
import { realClock, type Clock } from '../../clock';
import type { TrustPolicy, ValidatedIdentity } from '../../identity';
import type { Link, LinkEndpoint } from '../link';
import { judgeTlsPeer, tlsDial, tlsKeyLog, tlsServerOptions } from './tls-common';
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
    const server = createServer(tlsServerOptions(options));
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
    const socket = await tlsDial(address as TlsAddress, this.options, this.options.keyLogFile);
    let peer: ValidatedIdentity;
    try {
      peer = judgeTlsPeer(socket, this.options.policy, expectedNodeId);
    } catch (error) {
      socket.destroy();
      throw error;
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
      peer = judgeTlsPeer(socket, this.options.policy);
    } catch {
      socket.destroy();
      return;
    }
    const link = this.adopt(socket, peer);
    for (const listener of [...this.listeners]) listener(link);
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

  private keyLog(emitter: Server): void {
    tlsKeyLog(emitter, this.options.keyLogFile);
  }
}
