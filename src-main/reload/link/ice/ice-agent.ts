/**
 * One ICE agent (RFC 8445, non-trickle, one component, UDP) for a DTLS-UDP-SR link, over werift-ice's
 * Connection. The Attach requester is the controlling agent. Candidates, ufrag and password go to and come
 * from the peer in RELOAD wire form (the AttachReqAns of RFC 6940 §6.5.1.1); the transport of that exchange
 * is someone else's business.
 *
 * werift-ice needs two corrections, made here once for every agent (see `patchStunProtocol`):
 * - its onData hands up datagrams from any sender on any of its sockets; we remember who sent each one,
 *   so that only datagrams from the remote address of the nominated pair, or of another pair whose
 *   connectivity check succeeded (authenticated with the peer's password), reach our listeners. The two
 *   agents' nominated pairs may differ when a host has several interfaces (werift on the controlled side
 *   keeps the first pair it nominated while the controlling side's check came from a socket seen as
 *   peer-reflexive), and RFC 8445 §12.1 lets data arrive on any valid pair;
 * - a Binding request without USERNAME (a plain RFC 5389 STUN client, e.g. a peer learning its
 *   server-reflexive address from us) gets a Binding success response with XOR-MAPPED-ADDRESS instead of
 *   being ignored.
 */
import { isIP } from 'node:net';
import {
  Candidate,
  CandidatePairState,
  classes,
  Connection,
  Message,
  methods,
  parseMessage,
  StunProtocol,
} from 'werift-ice';
import type { CandType, IceCandidate } from '../../wire';
import { LinkConnectError } from '../link';
import { hostOf, toIpAddressPort } from '../ip-address';

/** OverlayLinkType DTLS-UDP-SR (RFC 6940 §6.5.1.1). */
export const OVERLAY_LINK_DTLS_UDP_SR = 1;

export class IceFailedError extends LinkConnectError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'IceFailedError';
  }
}

/** The connectivity checks found no working pair in time. */
export class IceTimeoutError extends IceFailedError {
  constructor(message: string) {
    super(message);
    this.name = 'IceTimeoutError';
  }
}

export interface IceAgentOptions {
  /** The Attach requester controls (RFC 6940 §6.5.1). */
  controlling: boolean;
  /** Addresses to offer as host candidates besides the interfaces' own (e.g. 127.0.0.1). */
  hostAddresses?: string[];
  /** A STUN server for a server-reflexive candidate; none by default. */
  stunServer?: { host: string; port: number };
}

export interface IceParameters {
  ufrag: Uint8Array;
  password: Uint8Array;
  candidates: IceCandidate[];
}

/** STUN traffic on the nominated pair since it was chosen: checks, then RFC 7675 consent keepalives. */
export interface IceKeepaliveStats {
  /** Consent (keepalive) requests we sent, every 4–6 s. */
  keepalivesSent: number;
  /** Answers to our checks and keepalives. */
  responsesReceived: number;
  /** The peer's checks and keepalives that reached us. */
  requestsReceived: number;
}

export interface IceAddress {
  host: string;
  port: number;
}

type WeriftAddress = [string, number];

interface Sender {
  protocol: unknown;
  addr: WeriftAddress;
}

/** Who sent the datagram werift is handing to onData right now (it does so synchronously). */
let currentSender: Sender | undefined;
let patched = false;

function patchStunProtocol(): void {
  if (patched) return;
  patched = true;
  const proto = StunProtocol.prototype as unknown as {
    datagramReceived(this: StunProtocol, data: Buffer, addr: WeriftAddress): void;
  };
  const original = proto.datagramReceived;
  proto.datagramReceived = function (this: StunProtocol, data: Buffer, addr: WeriftAddress): void {
    let message: Message | undefined;
    try {
      message = parseMessage(data);
    } catch {
      message = undefined;
    }
    if (
      message &&
      message.messageClass === classes.REQUEST &&
      message.messageMethod === methods.BINDING &&
      !message.attributesKeys.includes('USERNAME')
    ) {
      const response = new Message(methods.BINDING, classes.RESPONSE, message.transactionId);
      response.setAttribute('XOR-MAPPED-ADDRESS', addr).addFingerprint();
      void this.sendStun(response, addr).catch(() => undefined);
      return;
    }
    const previous = currentSender;
    currentSender = message ? undefined : { protocol: this, addr };
    try {
      original.call(this, data, addr);
    } finally {
      currentSender = previous;
    }
  };
}

const ascii = new TextEncoder();
const text = new TextDecoder();
const CAND_TYPES: readonly CandType[] = ['host', 'srflx', 'prflx', 'relay'];

export class IceAgent {
  private readonly listeners = new Set<(datagram: Uint8Array) => void>();
  /** Datagrams that came while checks ran (the peer may start DTLS before our own connect() returns). */
  private early: { protocol: unknown; addr: WeriftAddress; data: Uint8Array }[] = [];
  private connected = false;
  private closed = false;
  private readonly failureListeners = new Set<(reason: string) => void>();

  private constructor(private readonly connection: Connection) {
    connection.onData.subscribe((data: Buffer) => this.datagram(data));
    // After nomination werift runs consent checks (STUN, every 4-6 s); 30 s without an answer means failed.
    connection.stateChanged.subscribe((state: string) => {
      if (state === 'failed' && this.connected) this.failed('no answer to STUN keepalives (RFC 7675 consent)');
    });
  }

  static async create(options: IceAgentOptions): Promise<IceAgent> {
    patchStunProtocol();
    const connection = new Connection(options.controlling, {
      additionalHostAddresses: options.hostAddresses ?? [],
      useIpv6: false,
    });
    connection.stunServer = options.stunServer ? [options.stunServer.host, options.stunServer.port] : undefined;
    try {
      await connection.gatherCandidates();
    } catch (error) {
      await connection.close().catch(() => undefined);
      throw new IceFailedError('gathering ICE candidates failed', { cause: error });
    }
    return new IceAgent(connection);
  }

  /** Our ufrag, password and candidates, for the Attach request or answer. */
  localParameters(): IceParameters {
    const candidates: IceCandidate[] = [];
    for (const c of this.connection.localCandidates) {
      const type = c.type as CandType;
      if (c.transport.toLowerCase() !== 'udp' || !CAND_TYPES.includes(type) || !isIP(c.host)) continue;
      const candidate: IceCandidate = {
        addrPort: toIpAddressPort(c.host, c.port),
        overlayLink: OVERLAY_LINK_DTLS_UDP_SR,
        foundation: ascii.encode(c.foundation),
        priority: c.priority >>> 0,
        type,
        extensions: [],
      };
      if (type !== 'host')
        candidate.relAddrPort = toIpAddressPort(
          c.relatedAddress && isIP(c.relatedAddress) ? c.relatedAddress : '0.0.0.0',
          c.relatedPort ?? 0,
        );
      candidates.push(candidate);
    }
    return {
      ufrag: ascii.encode(this.connection.localUsername),
      password: ascii.encode(this.connection.localPassword),
      candidates,
    };
  }

  /** Runs the checks against the peer's parameters; on failure or timeout the agent is closed. */
  async connect(remote: IceParameters, timeoutMs: number): Promise<void> {
    if (this.closed) throw new IceFailedError('the ICE agent is closed');
    let timer: NodeJS.Timeout | undefined;
    try {
      const usable = remote.candidates.filter((c) => c.overlayLink === OVERLAY_LINK_DTLS_UDP_SR);
      if (usable.length === 0) throw new IceFailedError('the peer offered no DTLS-UDP-SR candidate');
      this.connection.setRemoteParams({
        iceLite: false,
        usernameFragment: text.decode(remote.ufrag),
        password: text.decode(remote.password),
      });
      for (const c of usable) {
        const rel = c.relAddrPort;
        await this.connection.addRemoteCandidate(
          new Candidate(
            text.decode(c.foundation),
            1,
            'udp',
            c.priority,
            hostOf(c.addrPort),
            c.addrPort.port,
            c.type,
            rel ? hostOf(rel) : undefined,
            rel?.port,
          ),
        );
      }
      await this.connection.addRemoteCandidate(undefined);
      // werift's connect() may never settle (e.g. a controlled agent never nominated): our own deadline.
      const checks = this.connection.connect();
      checks.catch(() => undefined);
      await Promise.race([
        checks,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new IceTimeoutError(`ICE did not connect within ${timeoutMs} ms`)),
            timeoutMs,
          );
        }),
      ]);
      if (this.closed) throw new IceFailedError('the ICE agent was closed');
      if (!this.connection.nominated) throw new IceFailedError('ICE connected without a nominated pair');
      this.connected = true;
      this.flushEarly();
    } catch (error) {
      await this.close();
      throw error instanceof IceFailedError ? error : new IceFailedError('ICE failed', { cause: error });
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  /** The nominated pair's remote address, once connected. */
  get remoteAddress(): IceAddress | undefined {
    const pair = this.connection.nominated;
    if (!pair || !this.connected) return undefined;
    const [host, port] = pair.remoteAddr;
    return { host, port: Number(port) };
  }

  /** The local socket address of each host candidate (e.g. where a STUN client may send). */
  get localAddresses(): IceAddress[] {
    return this.connection.localCandidates
      .filter((c) => c.type === 'host')
      .map((c) => ({ host: c.host, port: c.port }));
  }

  /** STUN counters of the nominated pair (zeros before it exists). */
  get keepalive(): IceKeepaliveStats {
    const pair = this.connection.nominated;
    return {
      keepalivesSent: pair?.consentRequestsSent ?? 0,
      responsesReceived: pair?.responsesReceived ?? 0,
      requestsReceived: pair?.requestsReceived ?? 0,
    };
  }

  /** Called once if the connected pair stops answering its keepalives; the agent is closed then. */
  onFailed(listener: (reason: string) => void): () => void {
    this.failureListeners.add(listener);
    return () => this.failureListeners.delete(listener);
  }

  send(datagram: Uint8Array): Promise<void> {
    if (this.closed || !this.connected) return Promise.reject(new IceFailedError('the ICE agent is not connected'));
    return this.connection.send(Buffer.from(datagram.buffer, datagram.byteOffset, datagram.byteLength));
  }

  /** Datagrams from the peer only: the nominated remote address (or another valid pair's, see above). */
  onData(listener: (datagram: Uint8Array) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.connected = false;
    this.listeners.clear();
    this.failureListeners.clear();
    this.early = [];
    await this.connection.close().catch(() => undefined);
  }

  private failed(reason: string): void {
    const listeners = [...this.failureListeners];
    this.failureListeners.clear();
    void this.close();
    for (const listener of listeners) listener(reason);
  }

  private datagram(data: Buffer): void {
    const sender = currentSender;
    if (this.closed || !sender) return;
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
    if (!this.connected) {
      if (this.early.length < 16) this.early.push({ protocol: sender.protocol, addr: sender.addr, data: bytes });
      return;
    }
    if (this.fromPeer(sender.protocol, sender.addr)) this.deliver(bytes);
  }

  /** From the nominated pair's remote address, or that of another valid pair on the same socket. */
  private fromPeer(protocol: unknown, addr: WeriftAddress): boolean {
    const nominated = this.connection.nominated;
    const pairs = nominated ? [nominated, ...this.connection.checkList] : this.connection.checkList;
    return pairs.some((pair) => {
      if (pair.protocol !== protocol) return false;
      if (pair !== nominated && pair.state !== CandidatePairState.SUCCEEDED) return false;
      const [host, port] = pair.remoteAddr;
      return host === addr[0] && Number(port) === Number(addr[1]);
    });
  }

  private flushEarly(): void {
    const early = this.early;
    this.early = [];
    // Delivered on the next turn, so that whoever awaited connect() can subscribe first.
    if (early.length > 0)
      setImmediate(() => {
        for (const e of early) if (this.connected && this.fromPeer(e.protocol, e.addr)) this.deliver(e.data);
      });
  }

  private deliver(datagram: Uint8Array): void {
    for (const listener of [...this.listeners]) listener(datagram);
  }
}
