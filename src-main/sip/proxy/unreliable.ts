/**
 * The RFC 3261 §17 timers sip.js leaves out because it assumes reliable transports, for flows that carry one
 * message per datagram (loopback UDP phones, SIP over DTLS AppAttach flows): a lost datagram must cost a
 * retransmission, not the call.
 * - Timer A / E: a client transaction resends its request (INVITE until any response; non-INVITE until a
 *   final one, the interval doubling up to T2, and T2 once a provisional response came).
 * - Timer G: an INVITE server transaction resends its non-2xx final response until the ACK comes.
 * - Timers J, I and D: sip.js ends those transactions at once (their reliable values, 0 s); `Afterglow`
 *   remembers each ended one for as long as the timer would have kept it, so that a retransmitted request
 *   gets the final response again (J), a retransmitted ACK is absorbed (I), and a retransmitted non-2xx final
 *   response gets the ACK again (D), instead of any of them passing as a new request or a stray.
 * Everything runs on the injected Clock; sip.js's own timers B, F and H still bound each transaction.
 */
import {
  TransactionState,
  type InviteClientTransaction,
  type InviteServerTransaction,
  type NonInviteClientTransaction,
  type NonInviteServerTransaction,
} from 'sip.js/lib/core/index.js';
import type { Clock, TimerHandle } from '../../reload/index';
import type { SipTransport } from '../transport/sip-transport';
import { SipJsTransport } from './transaction-io';

export interface SipTimerValues {
  /** RTT estimate (RFC 3261: 500 ms). */
  readonly t1Ms: number;
  /** Longest retransmission interval (4 s). */
  readonly t2Ms: number;
  /** How long a message may stay in the network (5 s). */
  readonly t4Ms: number;
}

export const RFC3261_TIMERS: SipTimerValues = Object.freeze({ t1Ms: 500, t2Ms: 4000, t4Ms: 5000 });

/** sip.js's Transport over one flow that remembers what it sent last (the message a timer resends). */
export class RecordingSipJsTransport extends SipJsTransport {
  last: string | undefined;

  override send(message: string): Promise<void> {
    this.last = message;
    return super.send(message);
  }
}

export function unreliable(flow: SipTransport): boolean {
  return flow.framing === 'datagram';
}

type ClientTransaction = InviteClientTransaction | NonInviteClientTransaction;

/**
 * Timer A (INVITE) or E (non-INVITE) for `tx`, which sent `text` over `flow`. Stops by itself when the
 * transaction leaves the states that retransmit, or when `stop` is called. `onResend` counts each resend.
 */
export function retransmitRequest(
  clock: Clock,
  timers: SipTimerValues,
  flow: SipTransport,
  tx: ClientTransaction,
  text: string,
  isInvite: boolean,
  onResend: () => void,
): () => void {
  if (!unreliable(flow)) return () => undefined;
  let handle: TimerHandle | undefined;
  let interval = timers.t1Ms;
  const stop = (): void => {
    handle?.cancel();
    handle = undefined;
  };
  const active = (): boolean =>
    isInvite
      ? tx.state === TransactionState.Calling
      : tx.state === TransactionState.Trying || tx.state === TransactionState.Proceeding;
  const arm = (): void => {
    handle = clock.setTimeout(fire, interval);
  };
  const fire = (): void => {
    handle = undefined;
    if (!active() || flow.closed) return;
    onResend();
    flow.send(text).catch(() => undefined); // a dead flow ends the transaction through its timeout
    if (isInvite)
      interval *= 2; // timer A doubles until timer B (sip.js's) ends the transaction
    else if (tx.state === TransactionState.Trying) interval = Math.min(interval * 2, timers.t2Ms);
    else interval = timers.t2Ms; // a non-INVITE request that got a provisional response: every T2
    arm();
  };
  tx.addStateChangeListener(() => {
    if (!active()) stop();
  });
  arm();
  return stop;
}

/** Timer G for an INVITE server transaction over `flow`: resends its non-2xx final until the ACK. */
export function retransmitFinalResponse(
  clock: Clock,
  timers: SipTimerValues,
  flow: SipTransport,
  tx: InviteServerTransaction,
  adapter: RecordingSipJsTransport,
  onResend: () => void,
): void {
  if (!unreliable(flow)) return;
  let handle: TimerHandle | undefined;
  let interval = timers.t1Ms;
  const fire = (): void => {
    handle = undefined;
    const text = adapter.last;
    if (tx.state !== TransactionState.Completed || flow.closed || text === undefined) return;
    onResend();
    flow.send(text).catch(() => undefined);
    interval = Math.min(interval * 2, timers.t2Ms);
    handle = clock.setTimeout(fire, interval);
  };
  tx.addStateChangeListener(() => {
    if (tx.state === TransactionState.Completed && handle === undefined) handle = clock.setTimeout(fire, interval);
    else if (tx.state !== TransactionState.Completed) {
      handle?.cancel();
      handle = undefined;
    }
  });
}

export type ServerTransactionLike = InviteServerTransaction | NonInviteServerTransaction;

interface Glow {
  /** What to send again when the transaction's request (server) or final response (client) comes again. */
  readonly reply: string | undefined;
  /** The final status this transaction ended with. */
  readonly status: number;
  readonly until: number;
}

/**
 * Transactions that sip.js ended at once but that an unreliable flow may still hear from, keyed like the
 * proxy's transactions (flow | branch | method). Bounded: the oldest entries go first beyond `maxEntries`.
 */
export class Afterglow {
  private readonly entries = new Map<string, Glow>();

  constructor(
    private readonly clock: Clock,
    private readonly maxEntries: number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  remember(key: string, status: number, reply: string | undefined, forMs: number): void {
    this.entries.delete(key);
    this.entries.set(key, { reply, status, until: this.clock.now() + forMs });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    // Expired entries leave as they are met; the oldest also leave here so an idle map does not keep them.
    const first = this.entries.entries().next().value as [string, Glow] | undefined;
    if (first && first[1].until <= this.clock.now()) this.entries.delete(first[0]);
  }

  /** The remembered end of the transaction `key`, if it is still within its timer. */
  recall(key: string): { reply: string | undefined; status: number } | undefined {
    const glow = this.entries.get(key);
    if (!glow) return undefined;
    if (glow.until <= this.clock.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return glow;
  }

  clear(): void {
    this.entries.clear();
  }
}
