import type { SipMessage } from '../message/parse';
import type { SipParty, SipTransport } from '../transport/sip-transport';

/** Listener bookkeeping shared by the UDP and TCP flows. */
export abstract class FlowBase implements SipTransport {
  abstract readonly protocol: string;
  abstract readonly framing: 'datagram' | 'stream';
  readonly party: SipParty;
  private readonly messageListeners = new Set<(message: string, parsed?: SipMessage) => void>();
  private readonly closeListeners = new Set<(reason: string) => void>();
  private isClosed = false;

  constructor(
    readonly id: string,
    readonly address: string,
    readonly port: number,
  ) {
    this.party = { kind: 'local', address, port };
  }

  get closed(): boolean {
    return this.isClosed;
  }

  abstract send(message: string): Promise<void>;

  onMessage(listener: (message: string, parsed?: SipMessage) => void): () => void {
    this.messageListeners.add(listener);
    return () => this.messageListeners.delete(listener);
  }

  onClose(listener: (reason: string) => void): () => void {
    if (this.isClosed) {
      queueMicrotask(() => listener('closed'));
      return () => {};
    }
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  close(reason = 'closed'): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.release(reason);
    for (const l of [...this.closeListeners]) l(reason);
    this.closeListeners.clear();
    this.messageListeners.clear();
  }

  /** Frees the socket or table entry; called once. */
  protected abstract release(reason: string): void;

  /** Hands one accepted message (and what parseSipMessage made of it) to the listeners. */
  emit(message: string, parsed?: SipMessage): void {
    for (const l of [...this.messageListeners]) l(message, parsed);
  }
}
