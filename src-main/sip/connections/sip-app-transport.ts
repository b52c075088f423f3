/**
 * A SipTransport over one AppAttach flow (RFC 7904 §5.1): SIP messages to and from one overlay peer.
 *
 * - Datagram flows (ICE + DTLS): one SIP message per datagram; a message over the flow's datagram size is
 *   refused with SipMessageTooLargeError (SIP over UDP would fragment; a DTLS record cannot). Datagrams
 *   that are only CRLFs are keepalive noise (RFC 3261 §7.5) and ignored. Liveness is the ICE layer's: the
 *   RFC 7675 consent checks werift keeps running on the pair close the flow as 'dead' when they fail.
 * - Stream flows (TLS): messages split by Content-Length (src-main/sip/message's SipStreamFramer, within
 *   `maxMessageBytes`), and RFC 5626 §3.5.1 keepalive:
 *   after `keepaliveIntervalMs` with nothing sent or received we send CRLFCRLF and expect a CRLF within
 *   `pongTimeoutMs` (any bytes from the peer prove it alive just as well), or the flow is closed; a peer's
 *   ping is answered with a pong. A stream that cannot be framed is closed (there is no resynchronising).
 *
 * The Via transport token is "TLS" on streams and "DTLS" on datagrams (docs/decisions.md, "The SIP usage").
 */
import {
  AppConnectionClosedError,
  AppMessageTooLargeError,
  toHex,
  type AppConnection,
  type Clock,
  type TimerHandle,
} from '../../reload/index';
import type { SipParty, SipTransport } from '../transport/sip-transport';
import { SipMessageTooLargeError } from '../message/errors';
import { DEFAULT_SIP_LIMITS } from '../message/limits';
import { SipStreamFramer } from '../message/stream-framer';
import { SipConnectionArgumentError, SipConnectionClosedError } from './errors';

/** What splits a stream into messages and keepalives (the seam for another framer in tests). */
export type MessageFramer = Pick<SipStreamFramer, 'push' | 'buffered'>;

export interface SipAppTransportOptions {
  clock: Clock;
  /** Idle time on a stream before a CRLFCRLF ping (default 95 s, the low end of RFC 5626 §4.4.1). */
  keepaliveIntervalMs?: number;
  /** How long a ping waits for its pong (default 10 s, RFC 5626 §4.4.1). */
  pongTimeoutMs?: number;
  /** Largest SIP message accepted or sent, either framing (default 64 KiB). */
  maxMessageBytes?: number;
  /** Builds the stream framer (default: SipStreamFramer with the default limits and maxMessageBytes). */
  framer?: () => MessageFramer;
}

export type SipConnectionDirection = 'outbound' | 'inbound';

const PING = new Uint8Array([0x0d, 0x0a, 0x0d, 0x0a]);
const PONG = new Uint8Array([0x0d, 0x0a]);
const utf8 = new TextEncoder();
const text = new TextDecoder();
let serial = 0;

export class SipAppTransport implements SipTransport {
  readonly id: string;
  readonly protocol: 'TLS' | 'DTLS';
  readonly framing: 'datagram' | 'stream';
  readonly party: SipParty;
  readonly createdAt: number;
  /** Clock time of the last SIP message either way (keepalives do not count). */
  lastMessageAt: number;
  bytesIn = 0;
  bytesOut = 0;
  messagesIn = 0;
  messagesOut = 0;
  pingsSent = 0;
  pongsSent = 0;
  private lastActivityAt: number;
  private readonly messageListeners = new Set<(message: string) => void>();
  private readonly closeListeners = new Set<(reason: string) => void>();
  private closedWith: string | undefined;
  private readonly framer: MessageFramer | undefined;
  private readonly maxMessageBytes: number;
  private readonly keepaliveIntervalMs: number;
  private readonly pongTimeoutMs: number;
  private keepaliveTimer: TimerHandle | undefined;
  private pongTimer: TimerHandle | undefined;

  constructor(
    readonly connection: AppConnection,
    readonly direction: SipConnectionDirection,
    private readonly o: SipAppTransportOptions,
  ) {
    this.framing = connection.framing;
    this.protocol = connection.framing === 'stream' ? 'TLS' : 'DTLS';
    this.party = { kind: 'overlay', nodeId: connection.peerNodeId.slice(), user: connection.peer.userName };
    this.id = `sip-app-${++serial}-${toHex(connection.peerNodeId).slice(0, 8)}-${connection.applicationId}`;
    this.maxMessageBytes = o.maxMessageBytes ?? 64 * 1024;
    this.keepaliveIntervalMs = o.keepaliveIntervalMs ?? 95_000;
    this.pongTimeoutMs = o.pongTimeoutMs ?? 10_000;
    if (this.framing === 'stream')
      this.framer =
        o.framer?.() ?? new SipStreamFramer({ ...DEFAULT_SIP_LIMITS, maxMessageBytes: this.maxMessageBytes });
    this.createdAt = this.lastMessageAt = this.lastActivityAt = o.clock.now();
    connection.onData((bytes) => this.received(bytes));
    connection.onClose((reason, detail) => this.finish(detail ? `${reason}: ${detail}` : reason));
    if (this.framer) this.scheduleKeepalive(this.keepaliveIntervalMs);
  }

  get applicationId(): number {
    return this.connection.applicationId;
  }

  get closed(): boolean {
    return this.closedWith !== undefined;
  }

  get closeReason(): string | undefined {
    return this.closedWith;
  }

  async send(message: string): Promise<void> {
    if (this.closedWith !== undefined) throw new SipConnectionClosedError(this.closedWith);
    if (typeof message !== 'string') throw new SipConnectionArgumentError('message', 'must be a string');
    const bytes = utf8.encode(message);
    const datagramLimit = this.framing === 'datagram' ? this.connection.maxDatagramSize : undefined;
    const limit = Math.min(this.maxMessageBytes, datagramLimit ?? Infinity);
    if (bytes.length > limit) throw new SipMessageTooLargeError('message', bytes.length, limit);
    try {
      await this.connection.send(bytes);
    } catch (error) {
      if (error instanceof AppMessageTooLargeError)
        throw new SipMessageTooLargeError('message', error.size, error.limit);
      // Any other failure means the flow is gone (closed, or its socket failed before it could say so).
      const reason =
        error instanceof AppConnectionClosedError
          ? error.reason
          : `send failed: ${error instanceof Error ? error.message : String(error)}`;
      this.close(reason);
      throw new SipConnectionClosedError(this.closedWith ?? reason);
    }
    this.bytesOut += bytes.length;
    this.messagesOut++;
    this.lastMessageAt = this.lastActivityAt = this.o.clock.now();
  }

  onMessage(listener: (message: string) => void): () => void {
    this.messageListeners.add(listener);
    return () => this.messageListeners.delete(listener);
  }

  onClose(listener: (reason: string) => void): () => void {
    const closed = this.closedWith;
    if (closed !== undefined) {
      queueMicrotask(() => listener(closed));
      return () => undefined;
    }
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  close(reason = 'closed locally'): void {
    if (this.closedWith !== undefined) return;
    this.finish(reason);
    void this.connection.close();
  }

  private received(bytes: Uint8Array): void {
    if (this.closedWith !== undefined) return;
    this.bytesIn += bytes.length;
    this.lastActivityAt = this.o.clock.now();
    // Any bytes from the peer prove it is there: an outstanding ping needs no pong any more.
    this.pongTimer?.cancel();
    this.pongTimer = undefined;
    if (!this.framer) return this.receivedDatagram(bytes);
    let events;
    try {
      events = this.framer.push(bytes);
    } catch (error) {
      // SipFramingError or SipMessageTooLargeError: a stream cannot be resynchronised.
      return this.close(`framing: ${error instanceof Error ? error.message : String(error)}`);
    }
    for (const event of events) {
      if (this.closedWith !== undefined) return;
      if (event.type === 'ping') this.pong();
      else if (event.type === 'message') this.deliver(event.text);
    }
  }

  private receivedDatagram(bytes: Uint8Array): void {
    if (bytes.every((b) => b === 0x0d || b === 0x0a)) return;
    if (bytes.length > this.maxMessageBytes) return; // only a broken or hostile peer sends these; dropped
    this.deliver(text.decode(bytes));
  }

  private deliver(message: string): void {
    this.messagesIn++;
    this.lastMessageAt = this.o.clock.now();
    for (const listener of [...this.messageListeners]) listener(message);
  }

  private pong(): void {
    this.pongsSent++;
    this.connection.send(PONG).catch(() => undefined);
  }

  private scheduleKeepalive(ms: number): void {
    this.keepaliveTimer = this.o.clock.setTimeout(() => this.keepalive(), ms);
  }

  /** Pings once the stream has been quiet for a whole interval; otherwise looks again when it will have been. */
  private keepalive(): void {
    if (this.closedWith !== undefined) return;
    const quiet = this.o.clock.now() - this.lastActivityAt;
    if (quiet < this.keepaliveIntervalMs) return this.scheduleKeepalive(this.keepaliveIntervalMs - quiet);
    if (!this.pongTimer) {
      this.pingsSent++;
      this.connection.send(PING).catch(() => undefined);
      this.pongTimer = this.o.clock.setTimeout(
        () => this.close(`keepalive: no pong within ${this.pongTimeoutMs} ms`),
        this.pongTimeoutMs,
      );
    }
    this.scheduleKeepalive(this.keepaliveIntervalMs);
  }

  private finish(reason: string): void {
    if (this.closedWith !== undefined) return;
    this.closedWith = reason;
    this.keepaliveTimer?.cancel();
    this.pongTimer?.cancel();
    this.messageListeners.clear();
    const listeners = [...this.closeListeners];
    this.closeListeners.clear();
    for (const listener of listeners) listener(reason);
  }
}
