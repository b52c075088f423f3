/** What every Link implementation shares: listeners, stats, the closed state. */
import type { ValidatedIdentity } from '../identity';
import {
  DEFAULT_SEND_QUEUE_LIMIT,
  LinkClosedError,
  LinkCongestedError,
  MessageTooLargeError,
  type Link,
  type LinkCloseReason,
  type LinkStats,
  type LinkType,
} from './link';

export abstract class LinkBase implements Link {
  private readonly messageListeners = new Set<(message: Uint8Array) => void>();
  private readonly closeListeners = new Set<(reason: LinkCloseReason, detail?: string) => void>();
  private closedWith: LinkCloseReason | undefined;
  readonly stats: LinkStats = {
    messagesSent: 0,
    messagesReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    retransmissions: 0,
    congested: 0,
  };
  sendQueueLimit = DEFAULT_SEND_QUEUE_LIMIT;
  /** Bytes of sends whose transmit() has not settled yet. */
  private pendingBytes = 0;

  constructor(
    readonly type: LinkType,
    readonly peer: ValidatedIdentity,
    readonly maxMessageSize: number,
  ) {}

  abstract get rttMs(): number | undefined;

  get closed(): boolean {
    return this.closedWith !== undefined;
  }

  get queuedBytes(): number {
    return this.backlogBytes();
  }

  async send(message: Uint8Array): Promise<void> {
    if (this.closedWith) throw new LinkClosedError(this.closedWith);
    if (message.length > this.maxMessageSize) throw new MessageTooLargeError(message.length, this.maxMessageSize);
    // Backpressure: with a backlog, refuse what would take it over the limit (one message always fits).
    const backlog = this.backlogBytes();
    if (backlog > 0 && backlog + message.length > this.sendQueueLimit) {
      this.stats.congested++;
      throw new LinkCongestedError(backlog, this.sendQueueLimit);
    }
    this.stats.messagesSent++;
    this.stats.bytesSent += message.length;
    this.pendingBytes += message.length;
    try {
      await this.transmit(message);
    } finally {
      this.pendingBytes -= message.length;
    }
  }

  onMessage(listener: (message: Uint8Array) => void): () => void {
    this.messageListeners.add(listener);
    return () => this.messageListeners.delete(listener);
  }

  onClose(listener: (reason: LinkCloseReason, detail?: string) => void): () => void {
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.closedWith) return;
    this.markClosed('local');
    await this.shutdown();
  }

  /** Sends one message on the wire (after the common checks). */
  protected abstract transmit(message: Uint8Array): Promise<void>;
  /** Releases the underlying transport after a local close. */
  protected abstract shutdown(): Promise<void>;

  /** Bytes accepted but not yet on the wire; by default those whose transmit() has not settled. */
  protected backlogBytes(): number {
    return this.pendingBytes;
  }

  protected deliver(message: Uint8Array): void {
    if (this.closedWith) return;
    this.stats.messagesReceived++;
    this.stats.bytesReceived += message.length;
    for (const listener of [...this.messageListeners]) listener(message);
  }

  /** Records the close once and tells listeners; returns false if it was already closed. */
  protected markClosed(reason: LinkCloseReason, detail?: string): boolean {
    if (this.closedWith) return false;
    this.closedWith = reason;
    for (const listener of [...this.closeListeners]) listener(reason, detail);
    return true;
  }
}
