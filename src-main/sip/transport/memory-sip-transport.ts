/**
 * Two connected SipTransport ends in memory: what one sends the other receives, whole, in order, on a
 * later microtask (never re-entrantly inside `send`). For simulations and tests of anything that speaks
 * SIP over a SipTransport; closing either end closes both.
 */
import type { SipParty, SipTransport } from './sip-transport';

export interface MemorySipEnd {
  /** Unique flow id of this end. */
  readonly id: string;
  /** Who is at the other end, as this end sees it. */
  readonly party: SipParty;
}

export interface MemorySipPairOptions {
  readonly a: MemorySipEnd;
  readonly b: MemorySipEnd;
  /** Via transport token of both ends. Default 'TCP'. */
  readonly protocol?: string;
  readonly framing?: 'datagram' | 'stream';
}

export class MemorySipTransportClosedError extends Error {
  constructor(id: string) {
    super(`SIP transport ${id} is closed`);
    this.name = 'MemorySipTransportClosedError';
  }
}

class MemoryEnd implements SipTransport {
  peer: MemoryEnd | undefined;
  private readonly messageListeners = new Set<(message: string) => void>();
  private readonly closeListeners = new Set<(reason: string) => void>();
  private isClosed = false;
  /** Every message this end sent, oldest first (tests read it). */
  readonly sent: string[] = [];

  constructor(
    readonly id: string,
    readonly party: SipParty,
    readonly protocol: string,
    readonly framing: 'datagram' | 'stream',
  ) {}

  get closed(): boolean {
    return this.isClosed;
  }

  send(message: string): Promise<void> {
    const peer = this.peer;
    if (this.isClosed || !peer) return Promise.reject(new MemorySipTransportClosedError(this.id));
    this.sent.push(message);
    queueMicrotask(() => peer.deliver(message));
    return Promise.resolve();
  }

  private deliver(message: string): void {
    if (this.isClosed) return;
    for (const l of [...this.messageListeners]) l(message);
  }

  onMessage(listener: (message: string) => void): () => void {
    this.messageListeners.add(listener);
    return () => void this.messageListeners.delete(listener);
  }

  onClose(listener: (reason: string) => void): () => void {
    this.closeListeners.add(listener);
    return () => void this.closeListeners.delete(listener);
  }

  close(reason = 'closed'): void {
    if (this.isClosed) return;
    this.isClosed = true;
    for (const l of [...this.closeListeners]) l(reason);
    this.closeListeners.clear();
    this.messageListeners.clear();
    this.peer?.close(reason);
  }
}

export type MemorySipTransport = SipTransport & { readonly sent: readonly string[] };

export function createMemorySipTransportPair(options: MemorySipPairOptions): [MemorySipTransport, MemorySipTransport] {
  const protocol = options.protocol ?? 'TCP';
  const framing = options.framing ?? 'stream';
  const a = new MemoryEnd(options.a.id, options.a.party, protocol, framing);
  const b = new MemoryEnd(options.b.id, options.b.party, protocol, framing);
  a.peer = b;
  b.peer = a;
  return [a, b];
}
