/**
 * An application flow from AppAttach (RFC 6940 §6.5.2): a dedicated, mutually authenticated DTLS or TLS
 * connection to one peer, for one Application-ID (e.g. 5060 SIP), that carries the application's own bytes.
 * It is not a RELOAD link: no FramedMessage framing, no Simple Reliability acks, no RELOAD messages.
 *
 * - `framing: 'datagram'` (DTLS over the pair ICE selected, or the in-memory network): each `send` is one
 *   datagram and each `onData` call one datagram as sent; datagrams may be lost or reordered, and nothing
 *   retransmits them (the application does, as SIP over UDP does).
 * - `framing: 'stream'` (TLS over TCP): a reliable, ordered byte stream; `onData` chunks have no relation to
 *   the `send` calls, so the application finds its own message boundaries (SIP: Content-Length).
 *
 * Keepalive is the application's job (RFC 6940 §6.5.2): nothing here sends anything on an idle flow, apart
 * from the STUN consent checks werift keeps running on an ICE pair (which keep NAT bindings open, and whose
 * failure closes the flow as 'dead'). A SIP user agent may use RFC 5626 §3.5 (CRLF on streams, STUN on
 * datagrams). Closing is the application's job too: a flow stays open until one side closes it or it fails.
 */
import type { ValidatedIdentity } from '../identity';

export type AppFraming = 'datagram' | 'stream';

/** 'local': we closed it; 'remote': the peer did; 'dead': the path failed; 'error': a protocol failure. */
export type AppConnectionCloseReason = 'local' | 'remote' | 'dead' | 'error';

export interface AppConnection {
  /** The Application-ID of the AppAttach exchange (e.g. 5060 SIP, 5061 SIPS). */
  readonly applicationId: number;
  readonly framing: AppFraming;
  /** 'requester': we sent the AppAttach (ICE controlling, (D)TLS server); 'answerer': we answered it. */
  readonly role: 'requester' | 'answerer';
  /**
   * The Node-ID that signed the other side of the AppAttach exchange; the certificate on this flow carries
   * it (checked before the connection was handed out).
   */
  readonly peerNodeId: Uint8Array;
  /** The peer as its certificate on this flow says, validated by the overlay's TrustPolicy. */
  readonly peer: ValidatedIdentity;
  /** The certificate the peer presented on this flow (DER). */
  readonly peerCertificate: Uint8Array;
  /** Largest `send` accepted with datagram framing (undefined for a stream). */
  readonly maxDatagramSize: number | undefined;
  readonly closed: boolean;
  /** Why it closed, once it has. */
  readonly closeReason: AppConnectionCloseReason | undefined;
  /**
   * Sends bytes (one datagram, or more of the stream). Resolves when handed to the socket (streams wait for
   * room in the socket's buffer). Rejects with AppConnectionClosedError once closed, AppMessageTooLargeError
   * for a datagram over `maxDatagramSize`, AppConnectionArgumentError for something that is not bytes.
   */
  send(bytes: Uint8Array): Promise<void>;
  /**
   * Data from the peer. What arrives before the first listener is registered is kept (a little) and handed
   * to that listener on the next microtask, so a handler that subscribes at once misses nothing.
   */
  onData(listener: (bytes: Uint8Array) => void): () => void;
  /** Called once when the connection closes (at once if it already has). */
  onClose(listener: (reason: AppConnectionCloseReason, detail?: string) => void): () => void;
  close(): Promise<void>;
}

/** `send` on a closed connection. */
export class AppConnectionClosedError extends Error {
  constructor(readonly reason: AppConnectionCloseReason) {
    super(`the application connection is closed (${reason})`);
    this.name = 'AppConnectionClosedError';
  }
}

/** A datagram larger than the flow can carry in one piece. */
export class AppMessageTooLargeError extends Error {
  readonly field = 'bytes';
  constructor(
    readonly size: number,
    readonly limit: number,
  ) {
    super(`bytes: a datagram of ${size} bytes exceeds this connection's ${limit}-byte limit`);
    this.name = 'AppMessageTooLargeError';
  }
}

/** Bad input to a connection method; `field` names it. */
export class AppConnectionArgumentError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'AppConnectionArgumentError';
  }
}

/** Data kept for a connection nobody listens to yet. */
const EARLY_CHUNKS = 64;
const EARLY_BYTES = 256 * 1024;

/** What every AppConnection implementation shares: listeners, the early buffer, the closed state. */
export abstract class AppConnectionBase implements AppConnection {
  private readonly dataListeners = new Set<(bytes: Uint8Array) => void>();
  private readonly closeListeners = new Set<(reason: AppConnectionCloseReason, detail?: string) => void>();
  private early: Uint8Array[] = [];
  private earlyBytes = 0;
  private flushing = false;
  private closedWith: { reason: AppConnectionCloseReason; detail: string | undefined } | undefined;
  readonly peerNodeId: Uint8Array;

  constructor(
    readonly applicationId: number,
    readonly framing: AppFraming,
    readonly role: 'requester' | 'answerer',
    peerNodeId: Uint8Array,
    readonly peer: ValidatedIdentity,
    readonly maxDatagramSize: number | undefined,
  ) {
    this.peerNodeId = peerNodeId.slice();
  }

  get peerCertificate(): Uint8Array {
    return this.peer.certificate.der;
  }

  get closed(): boolean {
    return this.closedWith !== undefined;
  }

  get closeReason(): AppConnectionCloseReason | undefined {
    return this.closedWith?.reason;
  }

  async send(bytes: Uint8Array): Promise<void> {
    if (this.closedWith) throw new AppConnectionClosedError(this.closedWith.reason);
    if (!(bytes instanceof Uint8Array)) throw new AppConnectionArgumentError('bytes', 'must be a Uint8Array');
    const limit = this.maxDatagramSize;
    if (limit !== undefined && bytes.length > limit) throw new AppMessageTooLargeError(bytes.length, limit);
    await this.transmit(bytes);
  }

  onData(listener: (bytes: Uint8Array) => void): () => void {
    this.dataListeners.add(listener);
    if (this.early.length > 0 && !this.flushing) {
      // Kept in order: what arrives before the flush runs queues behind the early data.
      this.flushing = true;
      queueMicrotask(() => {
        this.flushing = false;
        const early = this.early;
        this.early = [];
        this.earlyBytes = 0;
        for (const bytes of early) this.deliver(bytes);
      });
    }
    return () => this.dataListeners.delete(listener);
  }

  onClose(listener: (reason: AppConnectionCloseReason, detail?: string) => void): () => void {
    const closed = this.closedWith;
    if (closed) {
      queueMicrotask(() => listener(closed.reason, closed.detail));
      return () => undefined;
    }
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  async close(): Promise<void> {
    if (!this.markClosed('local')) return;
    await this.shutdown();
  }

  /** Puts bytes on the wire (after the common checks). */
  protected abstract transmit(bytes: Uint8Array): Promise<void>;
  /** Releases the flow after a local close (tells the peer where the protocol can). */
  protected abstract shutdown(): Promise<void>;

  /** Hands received bytes to the listeners (or keeps them until the first one comes). */
  protected deliver(bytes: Uint8Array): void {
    if (this.closedWith) return;
    if (this.dataListeners.size === 0 || this.flushing) {
      if (this.early.length < EARLY_CHUNKS && this.earlyBytes + bytes.length <= EARLY_BYTES) {
        this.early.push(bytes);
        this.earlyBytes += bytes.length;
      }
      return;
    }
    for (const listener of [...this.dataListeners]) listener(bytes);
  }

  /** Records the close once and tells the listeners; false if it was already closed. */
  protected markClosed(reason: AppConnectionCloseReason, detail?: string): boolean {
    if (this.closedWith) return false;
    this.closedWith = { reason, detail };
    this.early = [];
    const listeners = [...this.closeListeners];
    this.closeListeners.clear();
    for (const listener of listeners) listener(reason, detail);
    return true;
  }
}
