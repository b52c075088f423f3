/**
 * SIP connections of one ReloadNode (RFC 7904 §5): SIP only ever travels on AppAttach flows (Application-ID
 * 5060 SIP, 5061 SIPS), never on an overlay (Attach) link — this class touches nothing but AppConnections.
 *
 * - Outbound: `connect(destinations, { sips })` AppAttaches and wraps the flow in a SipAppTransport. The
 *   RELOAD layer already requires the flow's certificate to carry the Node-ID that signed the answer; RFC
 *   7904 §5.1 also requires that Node-ID to be the LAST entry of the destination list, checked here: any
 *   other answerer's flow is closed and SipConnectionIdentityError thrown.
 * - Pool: one live connection per (peer Node-ID, Application-ID), reused by later connects; concurrent
 *   connects to one peer share one AppAttach; closed after `idleTimeoutMs` without a SIP message and on
 *   stop(); at most `maxConnections` open or opening; a failed connect puts the peer in backoff (doubling,
 *   capped) so a caller looping on it cannot turn into an AppAttach storm, and is kept for status.
 * - Inbound: AppAttaches for the served Application-IDs become SipAppTransports; they join the pool, so
 *   requests and responses to that peer reuse them.
 * - Every new transport, either direction, goes to the `onTransport` listeners: the SIP core listens to all
 *   of them in one place.
 */
import {
  bytesEqual,
  toHex,
  type AppAttachOptions,
  type AppConnection,
  type Clock,
  type Destination,
  type TimerHandle,
} from '../../reload/index';
import {
  SipConnectBackoffError,
  SipConnectionArgumentError,
  SipConnectionIdentityError,
  SipConnectionLimitError,
  SipConnectionsStoppedError,
} from './errors';
import { SipAppTransport, type SipAppTransportOptions, type SipConnectionDirection } from './sip-app-transport';

export const SIP_APPLICATION_ID = 5060;
export const SIPS_APPLICATION_ID = 5061;
export type SipApplicationId = typeof SIP_APPLICATION_ID | typeof SIPS_APPLICATION_ID;

/** What SipConnections needs of a ReloadNode (ReloadNode itself fits). */
export interface SipAppAttachNode {
  appAttach(
    destination: Uint8Array | { resource: Uint8Array } | { route: readonly Destination[] },
    applicationId: number,
    options?: AppAttachOptions,
  ): Promise<AppConnection>;
  onAppAttach(applicationId: number, handler: (connection: AppConnection) => void): () => void;
}

export interface SipConnectionsOptions extends Omit<SipAppTransportOptions, 'clock'> {
  node: SipAppAttachNode;
  clock: Clock;
  /** Node-ID length of the overlay (default 16). */
  nodeIdLength?: number;
  /** The Application-IDs this peer answers AppAttaches for (default both 5060 and 5061). */
  serve?: readonly SipApplicationId[];
  /** A connection with no SIP message either way for this long is closed (default 5 min). */
  idleTimeoutMs?: number;
  /** Connections open or opening, both directions (default 64). */
  maxConnections?: number;
  /** First backoff after a failed connect to a peer (default 2 s); doubles per failure up to `maxBackoffMs`. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Failures kept for status (default 32). */
  failureHistory?: number;
  /** Passed to appAttach (how long the flow may take once answered). */
  connectTimeoutMs?: number;
}

export interface SipConnectOptions {
  /** SIPS (Application-ID 5061) rather than SIP (5060). */
  sips: boolean;
}

export interface SipTransportEvent {
  transport: SipAppTransport;
  direction: SipConnectionDirection;
}

export interface SipConnectionStatus {
  id: string;
  peer: string;
  user: string;
  applicationId: number;
  direction: SipConnectionDirection;
  framing: 'datagram' | 'stream';
  ageMs: number;
  idleMs: number;
  bytesIn: number;
  bytesOut: number;
  messagesIn: number;
  messagesOut: number;
}

export interface SipConnectFailure {
  peer: string;
  applicationId: number;
  at: number;
  reason: string;
  /** The error's class name (SipConnectionIdentityError, AppAttachNotSupportedError, …). */
  error: string;
}

export interface SipConnectionsStatus {
  open: SipConnectionStatus[];
  connecting: { peer: string; applicationId: number }[];
  failures: SipConnectFailure[];
}

/** Destination lists longer than this are refused (a registration's list is a few entries). */
const MAX_DESTINATIONS = 16;

interface Backoff {
  until: number;
  delayMs: number;
  reason: string;
}

export class SipConnections {
  private readonly live = new Set<SipAppTransport>();
  /** The connection a (peer, application) pair uses: the first live one. */
  private readonly pool = new Map<string, SipAppTransport>();
  private readonly pending = new Map<string, Promise<SipAppTransport>>();
  private readonly backoff = new Map<string, Backoff>();
  private readonly failures: SipConnectFailure[] = [];
  private readonly listeners = new Set<(event: SipTransportEvent) => void>();
  private readonly withdrawals: (() => void)[] = [];
  private idleTimer: TimerHandle | undefined;
  private running = false;
  private readonly idleTimeoutMs: number;
  private readonly maxConnections: number;

  constructor(private readonly o: SipConnectionsOptions) {
    this.idleTimeoutMs = positive(o.idleTimeoutMs ?? 300_000, 'idleTimeoutMs');
    this.maxConnections = positive(o.maxConnections ?? 64, 'maxConnections');
    positive(o.backoffMs ?? 2_000, 'backoffMs');
    positive(o.maxBackoffMs ?? 60_000, 'maxBackoffMs');
    for (const id of o.serve ?? [])
      if (id !== SIP_APPLICATION_ID && id !== SIPS_APPLICATION_ID)
        throw new SipConnectionArgumentError('serve', `${String(id)} is not 5060 (SIP) or 5061 (SIPS)`);
  }

  /** Answers AppAttaches for the served Application-IDs and starts the idle sweep. */
  start(): void {
    if (this.running) return;
    this.running = true;
    for (const applicationId of new Set(this.o.serve ?? [SIP_APPLICATION_ID, SIPS_APPLICATION_ID]))
      this.withdrawals.push(this.o.node.onAppAttach(applicationId, (c) => this.inbound(c)));
    this.scheduleSweep();
  }

  /** Stops answering, closes every connection; connects in progress fail. */
  stop(): void {
    if (!this.running) return;
    this.running = false;
    for (const withdraw of this.withdrawals.splice(0)) withdraw();
    this.idleTimer?.cancel();
    for (const transport of [...this.live]) transport.close('stopped');
  }

  /** Every new SIP transport (outbound and inbound). Returns an unsubscribe. */
  onTransport(listener: (event: SipTransportEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * A SIP transport to the node a destination list ends with: the pooled one if there is one, else a new
   * AppAttach. Rejects with SipConnectionArgumentError, SipConnectionIdentityError, SipConnectionLimitError,
   * SipConnectBackoffError, SipConnectionsStoppedError, or the RELOAD layer's AppAttach errors.
   */
  connect(destinations: readonly Destination[], options: SipConnectOptions): Promise<SipAppTransport> {
    if (!this.running) return Promise.reject(new SipConnectionsStoppedError());
    let peer: Uint8Array;
    let applicationId: SipApplicationId;
    try {
      peer = this.checkDestinations(destinations);
      if (typeof options !== 'object' || options === null || typeof options.sips !== 'boolean')
        throw new SipConnectionArgumentError('sips', 'must be true or false');
      applicationId = options.sips ? SIPS_APPLICATION_ID : SIP_APPLICATION_ID;
    } catch (error) {
      return Promise.reject(error as Error);
    }
    const key = keyOf(peer, applicationId);
    const pooled = this.pool.get(key);
    if (pooled && !pooled.closed) return Promise.resolve(pooled);
    const pending = this.pending.get(key);
    if (pending) return pending;
    const held = this.backoff.get(key);
    if (held && this.o.clock.now() < held.until)
      return Promise.reject(new SipConnectBackoffError(toHex(peer), held.until, held.reason));
    if (this.live.size + this.pending.size >= this.maxConnections)
      return Promise.reject(new SipConnectionLimitError(this.maxConnections));
    const attempt = this.open([...destinations], peer, applicationId).then(
      (transport) => {
        this.pending.delete(key);
        this.backoff.delete(key);
        return transport;
      },
      (error: unknown) => {
        this.pending.delete(key);
        const e = error instanceof Error ? error : new Error(String(error));
        this.failed(key, peer, applicationId, e);
        throw e;
      },
    );
    this.pending.set(key, attempt);
    return attempt;
  }

  status(): SipConnectionsStatus {
    const now = this.o.clock.now();
    return {
      open: [...this.live].map((t) => ({
        id: t.id,
        peer: t.party.kind === 'overlay' ? toHex(t.party.nodeId) : '',
        user: t.party.kind === 'overlay' ? t.party.user : '',
        applicationId: t.applicationId,
        direction: t.direction,
        framing: t.framing,
        ageMs: now - t.createdAt,
        idleMs: now - t.lastMessageAt,
        bytesIn: t.bytesIn,
        bytesOut: t.bytesOut,
        messagesIn: t.messagesIn,
        messagesOut: t.messagesOut,
      })),
      connecting: [...this.pending.keys()].map((key) => {
        const [peer, app] = key.split(':') as [string, string];
        return { peer, applicationId: Number(app) };
      }),
      failures: [...this.failures],
    };
  }

  private checkDestinations(destinations: readonly Destination[]): Uint8Array {
    if (!Array.isArray(destinations) || destinations.length === 0)
      throw new SipConnectionArgumentError('destinations', 'must be a non-empty list');
    if (destinations.length > MAX_DESTINATIONS)
      throw new SipConnectionArgumentError('destinations', `more than ${MAX_DESTINATIONS} entries`);
    const length = this.o.nodeIdLength ?? 16;
    for (const [i, d] of destinations.entries()) {
      const ok =
        typeof d === 'object' &&
        d !== null &&
        (d.type === 'node' || d.type === 'resource') &&
        d.id instanceof Uint8Array &&
        (d.type === 'node' ? d.id.length === length : d.id.length > 0 && d.id.length <= 255);
      if (!ok) throw new SipConnectionArgumentError(`destinations[${i}]`, 'must be a Node-ID or a Resource-ID');
    }
    const last = destinations[destinations.length - 1] as Destination;
    if (last.type !== 'node')
      throw new SipConnectionArgumentError(
        'destinations',
        'must end with a Node-ID (RFC 7904 §5.1: the answering certificate must carry it)',
      );
    return last.id.slice();
  }

  private async open(
    destinations: Destination[],
    peer: Uint8Array,
    applicationId: SipApplicationId,
  ): Promise<SipAppTransport> {
    // The AppAttach travels the whole destination list (e.g. [peer, client]); its last entry answers and must
    // be the flow's certificate (checked below as well as by the RELOAD layer).
    const only = destinations.length === 1 ? destinations[0] : undefined;
    const target = only?.type === 'node' ? only.id : { route: destinations };
    const connection = await this.o.node.appAttach(
      target,
      applicationId,
      this.o.connectTimeoutMs !== undefined ? { connectTimeoutMs: this.o.connectTimeoutMs } : {},
    );
    if (!bytesEqual(connection.peerNodeId, peer) || !connection.peer.nodeIds.some((id) => bytesEqual(id, peer))) {
      void connection.close();
      throw new SipConnectionIdentityError(toHex(peer), connection.peer.nodeIds.map(toHex).join(','));
    }
    if (!this.running) {
      void connection.close();
      throw new SipConnectionsStoppedError();
    }
    return this.adopt(connection, 'outbound');
  }

  private inbound(connection: AppConnection): void {
    const applicationId = connection.applicationId;
    if (!this.running || !(this.o.serve ?? [SIP_APPLICATION_ID, SIPS_APPLICATION_ID]).includes(applicationId as never))
      return void connection.close();
    if (this.live.size + this.pending.size >= this.maxConnections) {
      void connection.close();
      const error = new SipConnectionLimitError(this.maxConnections);
      return this.record(connection.peerNodeId, applicationId, error);
    }
    this.adopt(connection, 'inbound');
  }

  private adopt(connection: AppConnection, direction: SipConnectionDirection): SipAppTransport {
    const { clock, keepaliveIntervalMs, pongTimeoutMs, maxMessageBytes, framer } = this.o;
    const transport = new SipAppTransport(connection, direction, {
      clock,
      ...(keepaliveIntervalMs !== undefined ? { keepaliveIntervalMs } : {}),
      ...(pongTimeoutMs !== undefined ? { pongTimeoutMs } : {}),
      ...(maxMessageBytes !== undefined ? { maxMessageBytes } : {}),
      ...(framer !== undefined ? { framer } : {}),
    });
    const key = keyOf(connection.peerNodeId, connection.applicationId);
    this.live.add(transport);
    if (!this.pool.get(key)) this.pool.set(key, transport);
    transport.onClose(() => {
      this.live.delete(transport);
      if (this.pool.get(key) !== transport) return;
      this.pool.delete(key);
      // Another live connection to the same peer (both sides connected at once) takes its place.
      for (const other of this.live)
        if (keyOf(other.connection.peerNodeId, other.applicationId) === key) {
          this.pool.set(key, other);
          break;
        }
    });
    if (connection.closed) transport.close(connection.closeReason ?? 'closed');
    for (const listener of [...this.listeners]) listener({ transport, direction });
    return transport;
  }

  private failed(key: string, peer: Uint8Array, applicationId: number, error: Error): void {
    const previous = this.backoff.get(key);
    const first = this.o.backoffMs ?? 2_000;
    const delayMs = previous ? Math.min(previous.delayMs * 2, this.o.maxBackoffMs ?? 60_000) : first;
    this.backoff.set(key, { until: this.o.clock.now() + delayMs, delayMs, reason: error.message });
    // Bounded: entries of peers not tried for a long time go.
    if (this.backoff.size > 1024) {
      const now = this.o.clock.now();
      for (const [k, b] of this.backoff) if (b.until < now) this.backoff.delete(k);
    }
    this.record(peer, applicationId, error);
  }

  private record(peer: Uint8Array, applicationId: number, error: Error): void {
    this.failures.push({
      peer: toHex(peer),
      applicationId,
      at: this.o.clock.now(),
      reason: error.message,
      error: error.constructor.name,
    });
    const keep = this.o.failureHistory ?? 32;
    if (this.failures.length > keep) this.failures.splice(0, this.failures.length - keep);
  }

  /** Closes connections idle for idleTimeoutMs; runs at a quarter of it. */
  private scheduleSweep(): void {
    this.idleTimer = this.o.clock.setTimeout(
      () => {
        if (!this.running) return;
        const now = this.o.clock.now();
        for (const t of [...this.live])
          if (now - t.lastMessageAt >= this.idleTimeoutMs) t.close(`idle for ${this.idleTimeoutMs} ms`);
        this.scheduleSweep();
      },
      Math.max(1, this.idleTimeoutMs / 4),
    );
  }
}

function keyOf(peer: Uint8Array, applicationId: number): string {
  return `${toHex(peer)}:${applicationId}`;
}

function positive(value: number, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
    throw new SipConnectionArgumentError(field, 'must be a positive number');
  return value;
}
