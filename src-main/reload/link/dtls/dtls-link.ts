/**
 * One DTLS link with Simple Reliability (RFC 6940 §6.6.3): FramedMessage data and ack frames, one frame per
 * DTLS record. The same class serves DTLS-UDP-SR-NO-ICE (a DtlsEndpoint's UDP socket) and DTLS-UDP-SR (the
 * pair ICE selected): it only needs an established DtlsSession.
 *
 * Sender (the stop-and-wait reference algorithm): at most one unacknowledged message; the others wait in
 * order. A transmission unacknowledged after the RTO (RttEstimator, 500 ms until measured) is sent again
 * with a new sequence number and twice the wait; after 5 transmissions in all the link is dead. The next
 * message goes out when the ack comes (the reference's 10 ms pause is an option, `ackPauseMs`). Every ack
 * names the transmission it answers, so each
 * gives an unambiguous RTT sample.
 *
 * Receiver: acks every data frame at once with the bitmap of the 32 sequence numbers before it, and hands
 * each message to the application once. A repeated sequence number is a duplicate. So, too, is a
 * retransmission, which comes with a new sequence number: the wire cannot say so, but with a stop-and-wait
 * sender the transmissions of one message have consecutive sequence numbers, so a frame whose nearest
 * received neighbour in sequence order carries the same bytes, and came less than `duplicateWindowMs` ago,
 * is another transmission of that message (a late copy overtaken by its retransmission included). The one
 * case the wire leaves ambiguous, an application sending the very same bytes twice in a row within that
 * window, is delivered once; RELOAD's own end-to-end retransmissions wait 3 s by default, longer than
 * the window. A frame older than the 32 sequence numbers remembered is dropped unseen: werift keeps no DTLS
 * replay window, so this is where a replayed record stops.
 */
import { createHash } from 'node:crypto';
import type { Clock, TimerHandle } from '../../clock';
import {
  decodeContext,
  encodeWith,
  frameLength,
  readFramedMessage,
  Reader,
  ReloadDecodeError,
  writeFramedMessage,
  type DecodeContext,
} from '../../wire';
import type { ValidatedIdentity } from '../../identity';
import { LinkBase } from '../link-base';
import { LinkClosedError, type LinkCloseReason } from '../link';
import { ReceiveWindow, RttEstimator } from '../rtt';
import { ALERT_CLOSE_NOTIFY, ALERT_FATAL, type DtlsSession } from './dtls-session';

export interface DtlsLinkOptions {
  type: 'DTLS-UDP-SR-NO-ICE' | 'DTLS-UDP-SR';
  maxMessageSize: number;
  clock: Clock;
  /** RTO before the first RTT sample (RFC 6940: 500 ms). */
  initialRtoMs?: number;
  /** Transmissions of one message before the link is declared dead (RFC 6940: 5). */
  maxTransmissions?: number;
  /**
   * Pause after an ack before the next message. RFC 6940's reference sender waits 10 ms; we default to 0:
   * stop-and-wait already sends at most one message per round trip, which is RFC 5405's rule for UDP
   * senders without congestion control (the MUST of §6.6.3.1), and the pause capped a link at ~90 messages/s
   * (docs/decisions.md).
   */
  ackPauseMs?: number;
  /** How long a copy of the same bytes counts as a retransmission (see above). */
  duplicateWindowMs?: number;
  /** Called once, after the link closed for any reason. */
  onClosed?: () => void;
}

interface Outgoing {
  message: Uint8Array;
  resolve: () => void;
  reject: (error: Error) => void;
}

interface InFlight {
  /** Sequence numbers of this message's transmissions, with the time each was sent. */
  sentAt: Map<number, number>;
  transmissions: number;
  rtoMs: number;
  timer: TimerHandle | undefined;
}

interface Received {
  digest: string;
  at: number;
}

/** Frames whose contents we remember, by sequence number, for retransmission detection. */
const REMEMBERED_FRAMES = 64;
const MAX_RTO_MS = 60_000;

/** Signed distance a − b between two uint32 sequence numbers (serial number arithmetic). */
const seqDiff = (a: number, b: number) => (a - b) | 0;

export class DtlsLink extends LinkBase {
  private readonly clock: Clock;
  private readonly rtt: RttEstimator;
  private readonly window = new ReceiveWindow();
  private readonly ctx: DecodeContext;
  private readonly maxTransmissions: number;
  private readonly ackPauseMs: number;
  private readonly duplicateWindowMs: number;
  private nextSequence = 0;
  private readonly queue: Outgoing[] = [];
  private current: InFlight | undefined;
  private pause: TimerHandle | undefined;
  private readonly received = new Map<number, Received>();
  private highestReceived: number | undefined;
  private finished = false;

  constructor(
    private readonly session: DtlsSession,
    peer: ValidatedIdentity,
    private readonly options: DtlsLinkOptions,
  ) {
    super(options.type, peer, options.maxMessageSize);
    this.clock = options.clock;
    this.rtt = new RttEstimator(options.initialRtoMs ?? 500);
    this.maxTransmissions = options.maxTransmissions ?? 5;
    this.ackPauseMs = options.ackPauseMs ?? 0;
    this.duplicateWindowMs = options.duplicateWindowMs ?? 2_500;
    this.ctx = decodeContext({ maxMessageSize: Math.max(options.maxMessageSize, 38) });
    session.onData = (record) => this.receivedRecord(record);
    session.onPeerClose = ({ alert, fatal }) => this.end('remote', fatal ? `fatal alert ${alert}` : undefined, false);
  }

  get rttMs(): number | undefined {
    return this.rtt.smoothed;
  }

  /** The peer opened a new association from the same address (it restarted): this one is over. */
  supersede(): void {
    this.end('remote', 'the peer started a new DTLS association', false);
  }

  /** The path under the session failed (e.g. ICE keepalives went unanswered): the link is dead. */
  lost(detail: string): void {
    this.end('dead', detail, false);
  }

  protected transmit(message: Uint8Array): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ message, resolve, reject });
      this.next();
    });
  }

  protected async shutdown(): Promise<void> {
    await this.release('local', true);
  }

  // ---- sender ----

  /** Starts the next queued message unless one is unacknowledged or the pause after an ack runs. */
  private next(): void {
    if (this.closed || this.current || this.pause) return;
    const outgoing = this.queue.shift();
    if (!outgoing) return;
    this.current = { sentAt: new Map(), transmissions: 0, rtoMs: this.rtt.rtoMs, timer: undefined };
    this.transmitCurrent(outgoing.message);
    outgoing.resolve();
  }

  private transmitCurrent(message: Uint8Array): void {
    const current = this.current;
    if (!current || this.closed) return;
    const sequence = this.nextSequence;
    this.nextSequence = (this.nextSequence + 1) >>> 0;
    current.transmissions++;
    if (current.transmissions > 1) this.stats.retransmissions++;
    current.sentAt.set(sequence, this.clock.now());
    const frame = encodeWith(writeFramedMessage, { type: 'data', sequence, message }, message.length + 8);
    void this.session.send(frame).catch(() => undefined);
    current.timer = this.clock.setTimeout(() => {
      current.timer = undefined;
      if (this.current !== current) return;
      if (current.transmissions >= this.maxTransmissions) {
        this.end('dead', `no acknowledgement after ${current.transmissions} transmissions`, true);
        return;
      }
      current.rtoMs = Math.min(MAX_RTO_MS, current.rtoMs * 2);
      this.transmitCurrent(message);
    }, current.rtoMs);
  }

  private ackReceived(ackSequence: number): void {
    const current = this.current;
    const sentAt = current?.sentAt.get(ackSequence);
    if (!current || sentAt === undefined) return; // a late ack for an earlier message: nothing to do
    this.rtt.sample(this.clock.now() - sentAt);
    current.timer?.cancel();
    this.current = undefined;
    if (this.ackPauseMs === 0) {
      this.next();
      return;
    }
    this.pause = this.clock.setTimeout(() => {
      this.pause = undefined;
      this.next();
    }, this.ackPauseMs);
  }

  // ---- receiver ----

  private receivedRecord(record: Uint8Array): void {
    if (this.closed) return;
    // One frame per record is what we send; a peer packing several into one record is understood too.
    for (let rest = record; rest.length > 0;) {
      const need = frameLength(rest);
      if (need === 0) return this.fail('protocol-error', `unknown frame type 0x${rest[0]?.toString(16)}`);
      if (need === undefined || rest.length < need) {
        if (need !== undefined && need - 8 > this.options.maxMessageSize) return this.fail('oversize');
        return this.fail('protocol-error', 'a frame does not fit its DTLS record');
      }
      let frame;
      try {
        frame = readFramedMessage(new Reader(rest.subarray(0, need), this.ctx));
      } catch (error) {
        if (error instanceof ReloadDecodeError)
          return this.fail(error.message.includes('outside') ? 'oversize' : 'protocol-error', error.message);
        throw error;
      }
      rest = rest.subarray(need);
      if (frame.type === 'ack') this.ackReceived(frame.ackSequence);
      else this.dataReceived(frame.sequence, frame.message);
      if (this.closed) return;
    }
  }

  private dataReceived(sequence: number, message: Uint8Array): void {
    // Older than the 32 sequence numbers we remember: a replay (werift keeps no DTLS replay window) or a
    // copy so late that the sender has long moved on. Never delivered.
    if (this.highestReceived !== undefined && seqDiff(sequence, this.highestReceived) < -32) return;
    if (this.highestReceived === undefined || seqDiff(sequence, this.highestReceived) > 0)
      this.highestReceived = sequence;
    const fresh = this.window.record(sequence);
    const ack = encodeWith(writeFramedMessage, {
      type: 'ack',
      ackSequence: sequence,
      received: this.window.bitmapFor(sequence),
    });
    void this.session.send(ack).catch(() => undefined);
    if (!fresh) return;
    const now = this.clock.now();
    const digest = createHash('sha256').update(message).digest('base64');
    const retransmission = this.isRetransmission(sequence, digest, now);
    this.remember(sequence, { digest, at: now });
    if (!retransmission) this.deliver(message.slice());
  }

  /** Another transmission of a message we already have: its nearest received neighbour carries the same bytes. */
  private isRetransmission(sequence: number, digest: string, now: number): boolean {
    let below: [number, Received] | undefined;
    let above: [number, Received] | undefined;
    for (const [seq, entry] of this.received) {
      const d = seqDiff(seq, sequence);
      if (d < 0 && (!below || d > seqDiff(below[0], sequence))) below = [seq, entry];
      if (d > 0 && (!above || d < seqDiff(above[0], sequence))) above = [seq, entry];
    }
    const same = (n: [number, Received] | undefined) =>
      n !== undefined && n[1].digest === digest && now - n[1].at <= this.duplicateWindowMs;
    return same(below) || same(above);
  }

  private remember(sequence: number, entry: Received): void {
    this.received.set(sequence, entry);
    if (this.received.size > REMEMBERED_FRAMES) this.received.delete(this.received.keys().next().value as number);
  }

  // ---- closing ----

  private fail(reason: 'protocol-error' | 'oversize', detail?: string): void {
    this.end(reason, detail, true);
  }

  private end(reason: LinkCloseReason, detail: string | undefined, tellPeer: boolean): void {
    if (!this.markClosed(reason, detail)) return;
    void this.release(reason, tellPeer);
  }

  /** Stops the timers, fails the waiting sends, tells the peer (close_notify or a fatal alert), lets go. */
  private async release(reason: LinkCloseReason, tellPeer: boolean): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    this.current?.timer?.cancel();
    this.current = undefined;
    this.pause?.cancel();
    this.pause = undefined;
    for (const waiting of this.queue.splice(0)) waiting.reject(new LinkClosedError(reason));
    if (tellPeer) {
      if (reason === 'local' || reason === 'dead') await this.session.sendAlert(1, ALERT_CLOSE_NOTIFY);
      else await this.session.sendAlert(ALERT_FATAL, reason === 'oversize' ? 22 /* record_overflow */ : 10);
    }
    this.session.dispose();
    this.options.onClosed?.();
  }
}
