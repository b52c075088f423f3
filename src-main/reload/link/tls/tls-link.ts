/**
 * One TLS link: FramedMessage data frames out, ack frames back for every data frame received. On TCP the
 * acks only measure the round trip and detect a dead peer (no retransmission: TCP already does it).
 */
import type { TLSSocket } from 'node:tls';
import type { Clock, TimerHandle } from '../../clock';
import {
  decodeContext,
  encodeWith,
  frameLength,
  readFramedMessage,
  Reader,
  ReloadDecodeError,
  writeFramedMessage,
} from '../../wire';
import type { ValidatedIdentity } from '../../identity';
import { LinkBase } from '../link-base';
import { closeTlsSocket } from './tls-common';
import { ReceiveWindow, RttEstimator } from '../rtt';

export interface TlsLinkOptions {
  maxMessageSize: number;
  clock: Clock;
  deadAfterMs: number;
}

export class TlsLink extends LinkBase {
  private buffer: Buffer = Buffer.alloc(0);
  private nextSequence = 0;
  private readonly sentAt = new Map<number, number>();
  private readonly rtt = new RttEstimator();
  private readonly window = new ReceiveWindow();
  private deadTimer: TimerHandle | undefined;
  private drained: Promise<void> | undefined;
  private readonly ctx;

  constructor(
    private readonly socket: TLSSocket,
    peer: ValidatedIdentity,
    private readonly options: TlsLinkOptions,
  ) {
    super('TLS-TCP-FH-NO-ICE', peer, options.maxMessageSize);
    this.ctx = decodeContext({ maxMessageSize: Math.max(options.maxMessageSize, 38) });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.received(chunk));
    socket.on('end', () => this.markClosed('remote'));
    socket.on('close', () => {
      this.cancelDeadTimer();
      this.markClosed('remote');
    });
    socket.on('error', (error) => this.markClosed('remote', error.message));
  }

  get rttMs(): number | undefined {
    return this.rtt.smoothed;
  }

  protected async transmit(message: Uint8Array): Promise<void> {
    const sequence = this.nextSequence;
    this.nextSequence = (this.nextSequence + 1) >>> 0;
    const frame = encodeWith(writeFramedMessage, { type: 'data', sequence, message }, message.length + 8);
    this.sentAt.set(sequence, this.options.clock.now());
    if (this.sentAt.size > 256) this.sentAt.delete(this.sentAt.keys().next().value as number);
    this.armDeadTimer();
    // Backpressure: while the socket's buffer is full, every sender waits for the same 'drain'.
    if (!this.socket.write(frame)) {
      this.drained ??= new Promise<void>((resolve) =>
        this.socket.once('drain', () => {
          this.drained = undefined;
          resolve();
        }),
      );
      await this.drained;
    }
  }

  protected async shutdown(): Promise<void> {
    this.cancelDeadTimer();
    await closeTlsSocket(this.socket);
  }

  private received(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const need = frameLength(this.buffer);
      if (need === undefined || this.buffer.length < need) {
        if (this.buffer.length >= 8 && need !== undefined && need - 8 > this.options.maxMessageSize)
          return this.fail('oversize');
        return;
      }
      if (need === 0) return this.fail('protocol-error', `unknown frame type 0x${this.buffer[0]?.toString(16)}`);
      const bytes = new Uint8Array(this.buffer.buffer, this.buffer.byteOffset, need);
      this.buffer = this.buffer.subarray(need);
      let frame;
      try {
        frame = readFramedMessage(new Reader(bytes, this.ctx));
      } catch (error) {
        if (error instanceof ReloadDecodeError)
          return this.fail(error.message.includes('outside') ? 'oversize' : 'protocol-error', error.message);
        throw error;
      }
      if (frame.type === 'data') {
        this.window.record(frame.sequence);
        this.socket.write(
          encodeWith(writeFramedMessage, {
            type: 'ack',
            ackSequence: frame.sequence,
            received: this.window.bitmapFor(frame.sequence),
          }),
        );
        this.deliver(frame.message.slice());
      } else {
        const sent = this.sentAt.get(frame.ackSequence);
        if (sent !== undefined) {
          this.rtt.sample(this.options.clock.now() - sent);
          this.sentAt.delete(frame.ackSequence);
        }
        if (this.sentAt.size === 0) this.cancelDeadTimer();
      }
    }
  }

  private cancelDeadTimer(): void {
    this.deadTimer?.cancel();
    this.deadTimer = undefined;
  }

  /** A frame left unacknowledged for deadAfterMs means the peer is gone. */
  private armDeadTimer(): void {
    if (this.deadTimer) return;
    this.deadTimer = this.options.clock.setTimeout(() => {
      this.deadTimer = undefined;
      const oldest = Math.min(...this.sentAt.values());
      if (this.sentAt.size > 0 && this.options.clock.now() - oldest >= this.options.deadAfterMs)
        this.fail('dead', 'no acknowledgement');
      else if (this.sentAt.size > 0) this.armDeadTimer();
    }, this.options.deadAfterMs);
  }

  private fail(reason: 'dead' | 'protocol-error' | 'oversize', detail?: string): void {
    if (this.markClosed(reason, detail)) this.socket.destroy();
  }
}
