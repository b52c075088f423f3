/**
 * The local SIP interface: standard SIP phones on this machine talk to the node over UDP and TCP on a
 * loopback address (default port 5060). Each UDP source address:port and each TCP connection is one
 * SipTransport. Every message is parsed and checked here (parseSipMessage); a request that fails gets the
 * error response when its Via/From/To/Call-ID/CSeq can be read (else it is dropped), a response that fails is
 * dropped, and each drop is counted by reason. Accepted requests get received/rport on their top Via
 * (RFC 3261 §18.2.1, RFC 3581) before anyone sees them.
 */
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { SipTransport } from '../transport/sip-transport';
import { salvageErrorResponse } from '../message/error-response';
import { SipMessageError } from '../message/errors';
import { DEFAULT_SIP_LIMITS, type SipLimits } from '../message/limits';
import { looksLikeRequest, parseSipMessage, IncomingRequestMessage, type SipMessage } from '../message/parse';
import { SipStreamFramer } from '../message/stream-framer';
import { stampParsedRequest } from '../message/via-received';
import { SipDatagramTooLargeError, SipLocalOptionError, SipTransportClosedError } from './errors';
import { FlowBase } from './flow-base';
import { requireLoopback } from './loopback';

export interface LocalSipInterfaceOptions {
  /** Loopback IP literal to listen on; anything else is refused (SipLocalHostError). */
  host?: string;
  /** 5060 by default; 0 picks a free port (the same one for UDP and TCP). */
  port?: number;
  limits?: SipLimits;
  /** UDP flows (distinct source address:port) kept at once; the least recently active is evicted. */
  maxUdpFlows?: number;
  udpFlowIdleMs?: number;
  maxTcpConnections?: number;
  maxTcpConnectionsPerSource?: number;
  tcpIdleMs?: number;
}

export const LOCAL_SIP_DEFAULTS = Object.freeze({
  host: '127.0.0.1',
  port: 5060,
  maxUdpFlows: 256,
  udpFlowIdleMs: 120_000,
  maxTcpConnections: 128,
  maxTcpConnectionsPerSource: 64,
  tcpIdleMs: 600_000,
});

/** Largest UDP payload over IPv4. */
const MAX_DATAGRAM = 65_507;
/** SO_RCVBUF asked for the UDP socket (2 MiB; Linux doubles it, up to net.core.rmem_max). */
const UDP_RECEIVE_BUFFER = 2 * 1024 * 1024;

export interface LocalSipStatus {
  readonly host: string;
  readonly port: number;
  readonly udpFlows: number;
  readonly tcpConnections: number;
  /** Messages dropped without an answer, and connections refused, by reason. */
  readonly drops: Readonly<Record<string, number>>;
  /** Requests answered with an error response here, by error class. */
  readonly rejected: Readonly<Record<string, number>>;
  /** The UDP socket's receive buffer as the kernel granted it (bursts beyond it are dropped). */
  readonly udpReceiveBufferBytes: number;
}

type Options = Required<Omit<LocalSipInterfaceOptions, 'limits'>> & { limits: SipLimits };

export class LocalSipInterface {
  private readonly udpFlows = new Map<string, UdpFlow>();
  private readonly tcpFlows = new Set<TcpFlow>();
  private readonly transportListeners = new Set<(t: SipTransport) => void>();
  private readonly messageListeners = new Set<(m: SipMessage, t: SipTransport) => void>();
  private readonly drops = new Map<string, number>();
  private readonly rejected = new Map<string, number>();
  private nextId = 1;
  private closing = false;

  private constructor(
    private readonly options: Options,
    private readonly udp: UdpSocket,
    private readonly tcp: Server,
    readonly port: number,
  ) {
    udp.on('message', (data, rinfo) => this.onDatagram(data, rinfo));
    udp.on('error', () => this.count(this.drops, 'udp-socket-error'));
    tcp.on('connection', (socket) => this.onConnection(socket));
  }

  static async start(options: LocalSipInterfaceOptions = {}): Promise<LocalSipInterface> {
    const o: Options = {
      ...LOCAL_SIP_DEFAULTS,
      ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
      limits: options.limits ?? DEFAULT_SIP_LIMITS,
    } as Options;
    requireLoopback(o.host);
    if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) {
      throw new SipLocalOptionError('port', `${o.port} is not 0-65535`);
    }
    for (const key of [
      'maxUdpFlows',
      'udpFlowIdleMs',
      'maxTcpConnections',
      'maxTcpConnectionsPerSource',
      'tcpIdleMs',
    ] as const) {
      if (!Number.isInteger(o[key]) || o[key] < 1) throw new SipLocalOptionError(key, 'must be a positive integer');
    }
    // With port 0, TCP picks the port and UDP must get the same one; a clash retries a few times.
    for (let attempt = 0; ; attempt++) {
      const tcp = createServer({ pauseOnConnect: false });
      const port = await listen(tcp, o.host, o.port);
      // A burst of phone traffic while the event loop is busy must not overflow the default ~200 KiB buffer:
      // a dropped datagram costs a retransmission 500 ms later (the kernel caps this at net.core.rmem_max).
      const udp = createSocket({ type: o.host.includes(':') ? 'udp6' : 'udp4', recvBufferSize: UDP_RECEIVE_BUFFER });
      try {
        await bind(udp, o.host, port);
        return new LocalSipInterface(o, udp, tcp, port);
      } catch (err) {
        udp.close();
        await new Promise<void>((r) => tcp.close(() => r()));
        if (o.port !== 0 || attempt >= 4) throw err;
      }
    }
  }

  get host(): string {
    return this.options.host;
  }

  /** Each new flow (a first datagram from a new source, an accepted connection, an outgoing flow). */
  onTransport(listener: (transport: SipTransport) => void): () => void {
    this.transportListeners.add(listener);
    return () => this.transportListeners.delete(listener);
  }

  /** Each accepted message, parsed (requests already carry received/rport), with the flow it came on. */
  onMessage(listener: (message: SipMessage, transport: SipTransport) => void): () => void {
    this.messageListeners.add(listener);
    return () => this.messageListeners.delete(listener);
  }

  /**
   * A flow to a phone on this machine, e.g. the Contact it registered: the UDP flow for that address:port,
   * or for TCP the existing connection from there, else a new connection. Loopback destinations only.
   */
  async flowTo(protocol: 'UDP' | 'TCP', address: string, port: number): Promise<SipTransport> {
    requireLoopback(address);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new SipLocalOptionError('port', `${port}`);
    if (protocol === 'UDP') return this.udpFlow(address, port);
    for (const flow of this.tcpFlows) if (flow.address === address && flow.port === port && !flow.closed) return flow;
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = createConnection({ host: address, port }, () => {
        s.off('error', reject);
        resolve(s);
      });
      s.once('error', reject);
    });
    const flow = this.adoptConnection(socket);
    if (!flow) throw new SipTransportClosedError(`tcp:${address}:${port}`);
    return flow;
  }

  status(): LocalSipStatus {
    return {
      host: this.options.host,
      port: this.port,
      udpFlows: this.udpFlows.size,
      tcpConnections: this.tcpFlows.size,
      drops: Object.fromEntries(this.drops),
      rejected: Object.fromEntries(this.rejected),
      udpReceiveBufferBytes: this.udp.getRecvBufferSize(),
    };
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const flow of [...this.udpFlows.values()]) flow.close('interface closed');
    for (const flow of [...this.tcpFlows]) flow.close('interface closed');
    await Promise.all([
      new Promise<void>((r) => this.udp.close(() => r())),
      new Promise<void>((r) => this.tcp.close(() => r())),
    ]);
  }

  // --- UDP -----------------------------------------------------------------------------------------------

  private onDatagram(data: Buffer, rinfo: RemoteInfo): void {
    if (this.closing) return;
    const known = this.udpFlows.get(`${rinfo.address}:${rinfo.port}`);
    known?.touch();
    // RFC 5626 §3.5.1 uses STUN on datagrams; a bare CRLF keepalive some phones send is ignored.
    if (data.length <= 4 && /^[\r\n]*$/.test(data.toString('latin1'))) return;
    // A flow is made only for a datagram that is delivered or answered: garbage cannot evict real flows.
    this.accept(() => known ?? this.udpFlow(rinfo.address, rinfo.port), rinfo, data.toString('utf8'));
  }

  private udpFlow(address: string, port: number): UdpFlow {
    const key = `${address}:${port}`;
    const existing = this.udpFlows.get(key);
    if (existing) return existing;
    if (this.udpFlows.size >= this.options.maxUdpFlows) {
      const oldest = this.udpFlows.values().next().value;
      if (oldest) {
        this.count(this.drops, 'udp-flow-evicted');
        oldest.close('evicted: too many UDP flows');
      }
    }
    const flow = new UdpFlow(`udp:${this.nextId++}:${key}`, address, port, this);
    this.udpFlows.set(key, flow);
    this.announce(flow);
    return flow;
  }

  /** @internal flows call back into the interface */
  udpTouched(flow: UdpFlow): void {
    // Map order is recency order: the first entry is the eviction candidate.
    const key = `${flow.address}:${flow.port}`;
    if (this.udpFlows.get(key) === flow) {
      this.udpFlows.delete(key);
      this.udpFlows.set(key, flow);
    }
  }

  /** @internal */
  udpReleased(flow: UdpFlow): void {
    const key = `${flow.address}:${flow.port}`;
    if (this.udpFlows.get(key) === flow) this.udpFlows.delete(key);
  }

  /** @internal */
  udpSend(flow: UdpFlow, message: string): Promise<void> {
    const bytes = Buffer.from(message, 'utf8');
    if (bytes.length > MAX_DATAGRAM) return Promise.reject(new SipDatagramTooLargeError(bytes.length));
    return new Promise((resolve, reject) =>
      this.udp.send(bytes, flow.port, flow.address, (err) => (err ? reject(err) : resolve())),
    );
  }

  /** @internal */
  get udpIdleMs(): number {
    return this.options.udpFlowIdleMs;
  }

  // --- TCP -----------------------------------------------------------------------------------------------

  private onConnection(socket: Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    this.adoptConnection(socket);
  }

  private adoptConnection(socket: Socket): TcpFlow | undefined {
    const address = socket.remoteAddress ?? '';
    const port = socket.remotePort ?? 0;
    if (this.tcpFlows.size >= this.options.maxTcpConnections) {
      this.count(this.drops, 'tcp-connection-cap');
      socket.destroy();
      return undefined;
    }
    let fromSource = 0;
    for (const f of this.tcpFlows) if (f.address === address) fromSource++;
    if (fromSource >= this.options.maxTcpConnectionsPerSource) {
      this.count(this.drops, 'tcp-per-source-cap');
      socket.destroy();
      return undefined;
    }
    const flow = new TcpFlow(`tcp:${this.nextId++}:${address}:${port}`, address, port, socket, this);
    this.tcpFlows.add(flow);
    this.announce(flow);
    return flow;
  }

  /** @internal */
  tcpReleased(flow: TcpFlow): void {
    this.tcpFlows.delete(flow);
  }

  /** @internal */
  get tcpOptions(): { idleMs: number; limits: SipLimits } {
    return { idleMs: this.options.tcpIdleMs, limits: this.options.limits };
  }

  /** @internal */
  countDrop(reason: string): void {
    this.count(this.drops, reason);
  }

  // --- both ----------------------------------------------------------------------------------------------

  private announce(flow: SipTransport): void {
    for (const l of [...this.transportListeners]) l(flow);
  }

  /** @internal one whole message from a flow: check, answer or drop, else stamp and deliver. */
  accept(flowFor: () => UdpFlow | TcpFlow, source: { address: string; port: number }, text: string): void {
    let message: SipMessage;
    try {
      message = parseSipMessage(text, this.options.limits);
    } catch (err) {
      if (!(err instanceof SipMessageError) || !looksLikeRequest(text)) {
        this.count(this.drops, looksLikeRequest(text) ? 'request-unparseable' : 'response-unparseable');
        return;
      }
      const answer = salvageErrorResponse(text, err.status, err.message);
      if (answer === undefined) {
        this.count(this.drops, 'request-unanswerable');
        return;
      }
      this.count(this.rejected, err.name);
      flowFor()
        .send(answer)
        .catch(() => this.count(this.drops, 'send-failed'));
      return;
    }
    let delivered = text.slice(0, text.indexOf('\r\n\r\n') + 4) + message.body;
    if (message instanceof IncomingRequestMessage) {
      try {
        delivered = stampParsedRequest(message, delivered, source, this.options.limits);
      } catch {
        this.count(this.drops, 'via-stamp-failed');
        return;
      }
    }
    message.data = delivered;
    const flow = flowFor();
    flow.emit(delivered, message);
    for (const l of [...this.messageListeners]) l(message, flow);
  }

  private count(map: Map<string, number>, key: string): void {
    map.set(key, (map.get(key) ?? 0) + 1);
  }
}

class UdpFlow extends FlowBase {
  readonly protocol = 'UDP';
  readonly framing = 'datagram';
  private readonly timer: NodeJS.Timeout;

  constructor(
    id: string,
    address: string,
    port: number,
    private readonly owner: LocalSipInterface,
  ) {
    super(id, address, port);
    this.timer = setTimeout(() => this.close('idle'), owner.udpIdleMs);
    this.timer.unref();
  }

  touch(): void {
    this.timer.refresh();
    this.owner.udpTouched(this);
  }

  send(message: string): Promise<void> {
    if (this.closed) return Promise.reject(new SipTransportClosedError(this.id));
    this.touch();
    return this.owner.udpSend(this, message);
  }

  protected release(): void {
    clearTimeout(this.timer);
    this.owner.udpReleased(this);
  }
}

class TcpFlow extends FlowBase {
  readonly protocol = 'TCP';
  readonly framing = 'stream';
  private readonly framer: SipStreamFramer;
  private readonly maxUnsent: number;

  constructor(
    id: string,
    address: string,
    port: number,
    private readonly socket: Socket,
    private readonly owner: LocalSipInterface,
  ) {
    super(id, address, port);
    const { idleMs, limits } = owner.tcpOptions;
    this.framer = new SipStreamFramer(limits);
    this.maxUnsent = 4 * limits.maxMessageBytes;
    socket.setNoDelay(true);
    socket.setTimeout(idleMs, () => this.close('idle'));
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('error', () => this.close('socket error'));
    socket.on('close', () => this.close('connection closed'));
  }

  private onData(chunk: Buffer): void {
    let events;
    try {
      events = this.framer.push(chunk);
    } catch (err) {
      this.owner.countDrop('tcp-framing');
      this.close(`framing: ${(err as Error).message}`);
      return;
    }
    for (const event of events) {
      if (this.closed) return;
      if (event.type === 'ping') this.socket.write('\r\n');
      else if (event.type === 'message') this.owner.accept(() => this, this, event.text);
    }
  }

  send(message: string): Promise<void> {
    if (this.closed) return Promise.reject(new SipTransportClosedError(this.id));
    // A phone that never reads must not make us buffer without bound.
    if (this.socket.writableLength > this.maxUnsent) {
      this.close('peer not reading');
      return Promise.reject(new SipTransportClosedError(this.id));
    }
    return new Promise((resolve, reject) => this.socket.write(message, (err) => (err ? reject(err) : resolve())));
  }

  protected release(): void {
    this.owner.tcpReleased(this);
    this.socket.destroy();
  }
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}

function bind(socket: UdpSocket, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ address: host, port, exclusive: true }, () => {
      socket.off('error', reject);
      resolve();
    });
  });
}
