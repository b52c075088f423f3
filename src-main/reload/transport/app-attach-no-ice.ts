/**
 * AppAttach without ICE (RFC 6940 §6.5.2 in a `no-ice` overlay, as §6.5.1.11 does it for Attach): the
 * requester opens a listener for this one flow and offers its address as a passive TLS-TCP-FH-NO-ICE
 * candidate; the answerer answers and then connects to it, so the requester is the TLS server. The
 * handshake is the connectivity check; the listener takes the first connection whose certificate carries
 * the Node-ID that signed the answer, refuses any other, and stops listening. A listener per AppAttach (an
 * ephemeral port) keeps flows apart without any bytes of our own on them: two AppAttaches between the same
 * two nodes, for different Application-IDs, cannot be confused.
 *
 * Where the bytes go is an `AppFlows` backend: TLS over TCP (TlsAppFlows, below: a byte stream), or the
 * in-memory network of simulations (MemoryAppFlows, app-attach-memory.ts).
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { KeyObject } from 'node:crypto';
import { realClock, type Clock } from '../clock';
import type { TrustPolicy, ValidatedIdentity } from '../identity';
import { PeerRejectedError } from '../link/link';
import { hostOf } from '../link/ip-address';
import { closeTlsSocket, judgeTlsPeer, tlsDial, tlsKeyLog, tlsServerOptions } from '../link/tls/tls-common';
import { bytesEqual, ErrorCode, OverlayLinkType, toHex, type AppAttachReqAns, type IceCandidate } from '../wire';
import { AppAttachTimeoutError } from './app-attach-errors';
import {
  APP_ROLE_ANSWERER,
  APP_ROLE_REQUESTER,
  type AppAttachAnswer,
  type AppAttachOffer,
  type AppAttachStrategy,
  type AppFlowInfo,
} from './app-attach-strategy';
import { AppConnectionBase, type AppConnection } from './app-connection';
import { passiveTlsCandidate } from './attach-no-ice';
import { ErrorAnswer } from './message-transport';

export interface AppFlowAddress {
  host: string;
  port: number;
}

/** A listener for one AppAttach flow (the requester's side). */
export interface AppFlowListener {
  /** What the passive candidate says (the address peers reach). */
  readonly address: AppFlowAddress;
  /**
   * The first connection whose certificate carries `flow.peerNodeId` (including one that came before this
   * call). Rejects with AppAttachTimeoutError after `timeoutMs`, or PeerRejectedError if only connections
   * from other identities came. Either way the listener then stops listening.
   */
  accept(flow: AppFlowInfo, timeoutMs: number): Promise<AppConnection>;
  /** Stops listening; a connection already accepted stays open, any other is closed. */
  close(): void;
}

/** Where No-ICE AppAttach flows run. */
export interface AppFlows {
  readonly name: string;
  listen(): Promise<AppFlowListener>;
  /** The answerer's side: connects to the requester's candidate, whose certificate must carry the Node-ID. */
  connect(address: AppFlowAddress, flow: AppFlowInfo, timeoutMs: number): Promise<AppConnection>;
  /** Closes every flow and listener. */
  close(): Promise<void>;
}

export interface NoIceAppAttachOptions {
  flows: AppFlows;
  clock: Clock;
  /** How long the requester waits for the answerer's connection, and the answerer for its handshake (10 s). */
  connectTimeoutMs?: number;
}

const utf8 = new TextEncoder();

export class NoIceAppAttach implements AppAttachStrategy {
  readonly name: string;

  constructor(private readonly o: NoIceAppAttachOptions) {
    this.name = `No-ICE ${o.flows.name}`;
  }

  async offer(applicationId: number): Promise<AppAttachOffer> {
    const listener = await this.o.flows.listen();
    const candidate = passiveTlsCandidate(listener.address.host, listener.address.port);
    return {
      request: this.parameters(applicationId, APP_ROLE_REQUESTER, [candidate]),
      complete: (_answer, peer) =>
        listener.accept({ applicationId, role: 'requester', peerNodeId: peer }, this.o.connectTimeoutMs ?? 10_000),
      cancel: () => listener.close(),
    };
  }

  async answer(request: AppAttachReqAns, requester: Uint8Array): Promise<AppAttachAnswer> {
    const tls = request.candidates.find((c) => c.overlayLink === OverlayLinkType['TLS-TCP-FH-NO-ICE']);
    if (!tls)
      throw new ErrorAnswer(
        ErrorCode.Incompatible_with_Overlay,
        'candidates: no TLS-TCP-FH-NO-ICE candidate: this overlay runs without ICE',
      );
    const flow: AppFlowInfo = { applicationId: request.application, role: 'answerer', peerNodeId: requester };
    // Connect on the next turn, once the answer is on its way: the requester is the TLS server.
    const connection = new Promise<AppConnection>((resolve, reject) => {
      this.o.clock.setTimeout(() => {
        this.o.flows
          .connect({ host: hostOf(tls.addrPort), port: tls.addrPort.port }, flow, this.o.connectTimeoutMs ?? 10_000)
          .then(resolve, reject);
      }, 0);
    });
    connection.catch(() => undefined);
    return { answer: this.parameters(request.application, APP_ROLE_ANSWERER, []), connection };
  }

  close(): Promise<void> {
    return this.o.flows.close();
  }

  private parameters(application: number, role: string, candidates: IceCandidate[]): AppAttachReqAns {
    return {
      // No ICE runs, but the fields are mandatory; random values keep them meaningless.
      ufrag: utf8.encode(randomBytes(6).toString('hex')),
      password: utf8.encode(randomBytes(16).toString('hex')),
      application,
      role: utf8.encode(role),
      candidates,
    };
  }
}

/**
 * Holds a listener's incoming connections until the Node-ID they must carry is known (the connection can
 * beat the AppAttach answer), then hands out the first that carries it. For AppFlows backends.
 */
export class IncomingFlows<T> {
  private held: T[] = [];
  private refused: string | undefined;
  private waiter: { nodeId: Uint8Array; resolve: (t: T) => void; abandon: () => void } | undefined;
  private done = false;

  constructor(
    private readonly peerOf: (t: T) => ValidatedIdentity,
    private readonly discard: (t: T) => void,
    private readonly clock: Clock,
  ) {}

  /** A connection that passed the TrustPolicy. */
  arrived(t: T): void {
    if (this.done) return this.discard(t);
    const waiter = this.waiter;
    if (!waiter) {
      if (this.held.length < 4) this.held.push(t);
      else this.discard(t);
      return;
    }
    if (this.carries(t, waiter.nodeId)) {
      this.done = true;
      this.waiter = undefined;
      waiter.resolve(t);
    } else this.refuse(t, waiter.nodeId);
  }

  /** A connection the TrustPolicy refused (already closed by the backend). */
  rejected(reason: string): void {
    this.refused = reason;
  }

  wait(nodeId: Uint8Array, timeoutMs: number): Promise<T> {
    const held = this.held;
    this.held = [];
    const match = held.find((t) => this.carries(t, nodeId));
    for (const t of held) if (t !== match) this.refuse(t, nodeId);
    if (match) {
      this.done = true;
      return Promise.resolve(match);
    }
    return new Promise<T>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        this.waiter = undefined;
        this.done = true;
        reject(
          this.refused
            ? new PeerRejectedError(`no connection from ${toHex(nodeId)}; refused: ${this.refused}`)
            : new AppAttachTimeoutError('connection', `no connection from ${toHex(nodeId)} within ${timeoutMs} ms`),
        );
      }, timeoutMs);
      this.waiter = {
        nodeId,
        resolve: (t) => {
          timer.cancel();
          resolve(t);
        },
        abandon: () => {
          timer.cancel();
          reject(new AppAttachTimeoutError('connection', 'the AppAttach was given up before a connection came'));
        },
      };
    });
  }

  /** Discards whatever is held; later arrivals are discarded too. */
  close(): void {
    this.done = true;
    for (const t of this.held.splice(0)) this.discard(t);
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.abandon();
  }

  private carries(t: T, nodeId: Uint8Array): boolean {
    return this.peerOf(t).nodeIds.some((id) => bytesEqual(id, nodeId));
  }

  private refuse(t: T, nodeId: Uint8Array): void {
    this.refused = `the certificate does not carry ${toHex(nodeId)}`;
    this.discard(t);
  }
}

export interface TlsAppFlowsOptions {
  privateKey: KeyObject;
  /** Our certificate, then any chain to send. */
  certificates: Uint8Array[];
  policy: TrustPolicy;
  /** Where listeners bind (default 127.0.0.1); each AppAttach gets an ephemeral port there. */
  host?: string;
  /** The address to put in candidates when `host` is not what peers reach (e.g. a wildcard). */
  advertiseHost?: string;
  clock?: Clock;
  /** NSS key log for Wireshark (defaults to $SSLKEYLOGFILE); never set in production. */
  keyLogFile?: string;
}

/** No-ICE AppAttach flows over TLS 1.2 on TCP, mutually authenticated like TLS links: a byte stream. */
export class TlsAppFlows implements AppFlows {
  readonly name = 'TLS';
  private readonly connections = new Set<AppConnection>();
  private readonly servers = new Set<Server>();

  constructor(private readonly o: TlsAppFlowsOptions) {}

  async listen(): Promise<AppFlowListener> {
    const server = createServer(tlsServerOptions(this.o));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, this.o.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.servers.add(server);
    server.on('error', () => undefined);
    server.on('tlsClientError', () => undefined); // a failed handshake is the peer's problem
    tlsKeyLog(server, this.o.keyLogFile);
    const incoming = new IncomingFlows<{ socket: TLSSocket; peer: ValidatedIdentity }>(
      (c) => c.peer,
      (c) => c.socket.destroy(),
      this.o.clock ?? realClock,
    );
    server.on('secureConnection', (socket: TLSSocket) => {
      try {
        incoming.arrived({ socket, peer: judgeTlsPeer(socket, this.o.policy) });
      } catch (error) {
        socket.destroy();
        incoming.rejected((error as Error).message);
      }
    });
    const stop = () => {
      if (this.servers.delete(server)) server.close();
    };
    const { port } = server.address() as AddressInfo;
    return {
      address: { host: this.o.advertiseHost ?? this.o.host ?? '127.0.0.1', port },
      accept: async (flow, timeoutMs) => {
        try {
          const { socket, peer } = await incoming.wait(flow.peerNodeId, timeoutMs);
          return this.adopt(socket, peer, flow);
        } finally {
          stop();
        }
      },
      close: () => {
        incoming.close();
        stop();
      },
    };
  }

  async connect(address: AppFlowAddress, flow: AppFlowInfo, timeoutMs: number): Promise<AppConnection> {
    const dialing = tlsDial(address, this.o, this.o.keyLogFile);
    const clock = this.o.clock ?? realClock;
    let timer: { cancel(): void } | undefined;
    const socket = await Promise.race([
      dialing,
      new Promise<never>((_, reject) => {
        timer = clock.setTimeout(() => {
          void dialing.then(
            (s) => s.destroy(),
            () => undefined,
          );
          reject(new AppAttachTimeoutError('handshake', `no TLS connection to ${address.host}:${address.port}`));
        }, timeoutMs);
      }),
    ]).finally(() => timer?.cancel());
    let peer: ValidatedIdentity;
    try {
      peer = judgeTlsPeer(socket, this.o.policy, flow.peerNodeId);
    } catch (error) {
      socket.destroy();
      throw error;
    }
    return this.adopt(socket, peer, flow);
  }

  async close(): Promise<void> {
    for (const server of this.servers) server.close();
    this.servers.clear();
    await Promise.all([...this.connections].map((c) => c.close()));
  }

  private adopt(socket: TLSSocket, peer: ValidatedIdentity, flow: AppFlowInfo): AppConnection {
    const connection = new TlsAppConnection(socket, peer, flow);
    this.connections.add(connection);
    connection.onClose(() => this.connections.delete(connection));
    return connection;
  }
}

/** One AppAttach flow over TLS: the application's bytes as a stream, nothing of ours on it. */
export class TlsAppConnection extends AppConnectionBase {
  private drained: Promise<void> | undefined;

  constructor(
    private readonly socket: TLSSocket,
    peer: ValidatedIdentity,
    flow: AppFlowInfo,
  ) {
    super(flow.applicationId, 'stream', flow.role, flow.peerNodeId, peer, undefined);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.deliver(new Uint8Array(chunk)));
    socket.on('end', () => {
      if (this.markClosed('remote')) socket.end();
    });
    socket.on('close', () => this.markClosed('remote'));
    socket.on('error', (error) => this.markClosed('error', error.message));
  }

  protected async transmit(bytes: Uint8Array): Promise<void> {
    // Backpressure: while the socket's buffer is full, every sender waits for the same 'drain'.
    if (!this.socket.write(bytes)) {
      this.drained ??= new Promise<void>((resolve) => {
        const done = () => {
          this.socket.off('drain', done);
          this.socket.off('close', done);
          this.drained = undefined;
          resolve();
        };
        this.socket.on('drain', done);
        this.socket.on('close', done);
      });
      await this.drained;
    }
  }

  protected async shutdown(): Promise<void> {
    await closeTlsSocket(this.socket);
  }
}
