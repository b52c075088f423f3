/**
 * One forwarded request and its branches (RFC 3261 §16.6-16.10): the server transaction towards the
 * caller, a client transaction per target, response aggregation and the best-response choice, CANCEL of
 * the other branches on a 2xx or 6xx and when the caller cancels, and timer C per INVITE branch.
 *
 * Timers: sip.js's transactions keep their own (real setTimeout: B, F, D, H, L, M; A/E/G are not
 * implemented in sip.js, which assumes reliable transports); the proxy's own timers — timer C, the
 * non-INVITE branch limit and the grace period after a CANCEL — run on the injected Clock so that a
 * simulation drives them. A branch the proxy gives up on has its client transaction disposed, which stops
 * sip.js's timers too.
 */
import {
  constructOutgoingResponse,
  InviteClientTransaction,
  NonInviteClientTransaction,
  TransactionState,
  type IncomingRequestMessage,
  type IncomingResponseMessage,
  type InviteServerTransaction,
  type LoggerFactory,
  type NonInviteServerTransaction,
} from 'sip.js/lib/core/index.js';
import type { Clock, TimerHandle } from '../../reload/index';
import type { SipTransport } from '../transport/sip-transport';
import { bestResponseIndex, upstreamStatus, type BranchOutcome } from './best-response';
import type { NextHop } from './next-hops';
import type { ProxyTarget } from './proxy-interfaces';
import { headerLines, render, viaEntries } from './sip-text';
import { ForwardedRequest, type ForwardedRequestParts } from './transaction-io';
import { RecordingSipJsTransport, retransmitRequest, unreliable, type SipTimerValues } from './unreliable';

export interface ContextHost {
  readonly loggerFactory: LoggerFactory;
  readonly clock: Clock;
  /** Our Via sent-by on a request sent over `transport` (the local interface's address towards phones). */
  sentByFor(transport: SipTransport): string;
  readonly branchTimeoutMs: number;
  readonly nonInviteTimeoutMs: number;
  readonly cancelGraceMs: number;
  readonly maxViaEntries: number;
  readonly timers: SipTimerValues;
  /** Counts one message sent again on a datagram flow. */
  retransmitted(): void;
  /** An INVITE client transaction ended on a non-2xx: `ack` goes out again if that final comes again (timer D). */
  rememberClientEnd(transport: SipTransport, branch: string, ack: string): void;
  /** Opens (or reuses) a flow to a remote target and makes sure the proxy listens to it. */
  connect(target: ProxyTarget): Promise<SipTransport>;
  /** Makes sure the proxy listens to a local UA's flow (responses come back on it). */
  listen(transport: SipTransport): void;
  /**
   * Routes responses arriving on `transport` whose top Via branch and CSeq method match to `onResponse`.
   * Scoped to the flow the request went out on, so one downstream party cannot answer another's branch.
   */
  registerClient(
    transport: SipTransport,
    branch: string,
    method: string,
    onResponse: (response: IncomingResponseMessage) => void,
  ): () => void;
  nextBranch(): string;
  count(event: 'forwarded-request' | 'forwarded-response'): void;
  fail(reason: string): void;
}

export type ServerTransaction = InviteServerTransaction | NonInviteServerTransaction;

/** What to forward on one branch; branch and sent-by are filled in by the context. */
export interface BranchPlan {
  readonly hop: NextHop;
  readonly parts: Omit<ForwardedRequestParts, 'branch' | 'sentBy'>;
}

interface FinalOutcome {
  readonly status: number;
  readonly synthesized: boolean;
  /** The response text with our Via removed (undefined when synthesized). */
  readonly text: string | undefined;
  readonly response: IncomingResponseMessage | undefined;
}

const SKIP_IN_RESPONSE = new Set(['via', 'content-length', 'p-asserted-identity']);

class Branch {
  transport: SipTransport | undefined;
  client: InviteClientTransaction | NonInviteClientTransaction | undefined;
  request: ForwardedRequest | undefined;
  branchId = '';
  unregister: (() => void) | undefined;
  provisional = false;
  final: FinalOutcome | undefined;
  timer: TimerHandle | undefined;
  cancelWanted = false;
  cancelSent = false;
  success = false;

  constructor(
    readonly index: number,
    readonly plan: BranchPlan,
  ) {}

  get done(): boolean {
    return this.final !== undefined || this.success;
  }
}

export class ResponseContext {
  private readonly branches: Branch[];
  private finalSent = false;
  private readonly toTag = `p${Math.random().toString(36).slice(2, 10)}`;
  private released = false;

  constructor(
    private readonly host: ContextHost,
    readonly request: IncomingRequestMessage,
    readonly server: ServerTransaction,
    plans: readonly BranchPlan[],
  ) {
    this.branches = plans.map((p, i) => new Branch(i, p));
  }

  get isInvite(): boolean {
    return this.request.method === 'INVITE';
  }

  start(): void {
    for (const b of this.branches) void this.startBranch(b);
  }

  /** The caller's CANCEL (§16.10): every pending branch is cancelled; the final answer comes from them. */
  cancelByCaller(): void {
    for (const b of this.branches) this.cancelBranch(b);
  }

  /** Answers the caller without forwarding (a proxy-generated final response). */
  respond(status: number, reason?: string): void {
    const text = constructOutgoingResponse(this.request, {
      statusCode: status,
      reasonPhrase: reason,
      toTag: this.toTag,
    }).message;
    this.sendUpstream(status, text);
  }

  private async startBranch(b: Branch): Promise<void> {
    const hop = b.plan.hop;
    this.armTimer(b, this.isInvite ? this.host.branchTimeoutMs : this.host.nonInviteTimeoutMs);
    let transport: SipTransport;
    try {
      if (hop.kind === 'local') {
        transport = hop.binding.transport;
        this.host.listen(transport);
      } else {
        transport = await this.host.connect(hop.target);
      }
    } catch {
      this.host.fail('connect-failed');
      this.synthesize(b, 480);
      return;
    }
    if (b.done) return;
    if (b.cancelWanted) {
      this.synthesize(b, 487);
      return;
    }
    b.transport = transport;
    b.branchId = this.host.nextBranch();
    const request = new ForwardedRequest({
      ...b.plan.parts,
      branch: b.branchId,
      sentBy: this.host.sentByFor(transport),
    });
    b.request = request;
    b.unregister = this.host.registerClient(transport, b.branchId, this.request.method, (r) =>
      b.client?.receiveResponse(r),
    );
    const user = {
      loggerFactory: this.host.loggerFactory,
      receiveResponse: (r: IncomingResponseMessage) => this.onResponse(b, r),
      onRequestTimeout: () => this.synthesize(b, 408),
      onTransportError: () => {
        this.host.fail('transport-error');
        this.synthesize(b, 480);
      },
    };
    const adapter = new RecordingSipJsTransport(transport);
    b.client = this.isInvite
      ? new InviteClientTransaction(request, adapter, user)
      : new NonInviteClientTransaction(request, adapter, user);
    const client = b.client;
    const sent = adapter.last;
    if (sent !== undefined)
      retransmitRequest(this.host.clock, this.host.timers, transport, client, sent, this.isInvite, () =>
        this.host.retransmitted(),
      );
    client.addStateChangeListener(() => {
      if (client.state !== TransactionState.Terminated) return;
      b.unregister?.();
      // After a non-2xx final sip.js sent the ACK last; it ends the transaction at once (timer D = 0).
      const ack = adapter.last;
      if (this.isInvite && unreliable(transport) && ack?.startsWith('ACK ') && (b.final?.status ?? 0) >= 300)
        this.host.rememberClientEnd(transport, b.branchId, ack);
    });
    this.host.count('forwarded-request');
  }

  private armTimer(b: Branch, ms: number): void {
    b.timer?.cancel();
    b.timer = this.host.clock.setTimeout(() => this.onTimer(b), ms);
  }

  /** Timer C / the branch limit (§16.8): CANCEL a branch that is ringing, give up on one that is silent. */
  private onTimer(b: Branch): void {
    b.timer = undefined;
    if (b.done) return;
    this.host.fail('branch-timeout');
    if (this.isInvite && b.provisional && !b.cancelSent) {
      this.sendCancel(b);
      this.armTimer(b, this.host.cancelGraceMs);
      return;
    }
    this.synthesize(b, 408);
  }

  private cancelBranch(b: Branch): void {
    if (b.done || b.cancelWanted || !this.isInvite) return;
    b.cancelWanted = true;
    if (b.provisional) this.sendCancel(b);
    // Without a provisional response a CANCEL must wait (RFC 3261 §9.1); bound the wait either way.
    this.armTimer(b, this.host.cancelGraceMs);
  }

  private sendCancel(b: Branch): void {
    const req = b.request;
    const transport = b.transport;
    if (!req || !transport || b.cancelSent) return;
    b.cancelSent = true;
    const p = b.plan.parts;
    const cancel = new ForwardedRequest({
      ...p,
      method: 'CANCEL',
      branch: b.branchId,
      sentBy: this.host.sentByFor(transport),
      lines: [
        ...p.routes.map((r) => `Route: ${r}`),
        `Max-Forwards: 70`,
        `From: ${p.from}`,
        `To: ${p.to}`,
        `Call-ID: ${p.callId}`,
        `CSeq: ${p.cseq} CANCEL`,
      ],
      body: '',
    });
    const adapter = new RecordingSipJsTransport(transport);
    const tx = new NonInviteClientTransaction(cancel, adapter, {
      loggerFactory: this.host.loggerFactory,
    });
    if (adapter.last !== undefined)
      retransmitRequest(this.host.clock, this.host.timers, transport, tx, adapter.last, false, () =>
        this.host.retransmitted(),
      );
    const unregister = this.host.registerClient(transport, b.branchId, 'CANCEL', (r) => tx.receiveResponse(r));
    tx.addStateChangeListener(() => {
      if (tx.state === TransactionState.Terminated) unregister();
    });
  }

  private onResponse(b: Branch, response: IncomingResponseMessage): void {
    const status = response.statusCode ?? 0;
    let text: string;
    try {
      text = stripOurVia(response, this.host.maxViaEntries);
    } catch {
      this.host.fail('malformed-response');
      return;
    }
    if (status < 200) {
      b.provisional = true;
      if (b.cancelWanted) {
        this.sendCancel(b);
        return;
      }
      if (status === 100) return;
      if (this.isInvite && !b.cancelSent) this.armTimer(b, this.host.branchTimeoutMs);
      if (!this.finalSent) this.sendUpstream(status, text);
      return;
    }
    if (status < 300) {
      b.success = true;
      b.timer?.cancel();
      b.timer = undefined;
      const first = !this.finalSent;
      this.finalSent = true;
      // §16.7 step 5: every 2xx goes upstream, also later ones from other branches (an INVITE may fork).
      if (this.isInvite || first) this.sendUpstream(status, text);
      if (this.isInvite && first) for (const other of this.branches) if (other !== b) this.cancelBranch(other);
      this.maybeRelease();
      return;
    }
    if (b.done) return;
    b.timer?.cancel();
    b.timer = undefined;
    b.final = { status, synthesized: false, text, response };
    if (this.isInvite && status >= 600) for (const other of this.branches) if (other !== b) this.cancelBranch(other);
    this.checkComplete();
  }

  private synthesize(b: Branch, status: number): void {
    if (b.done) return;
    b.timer?.cancel();
    b.timer = undefined;
    b.final = { status, synthesized: true, text: undefined, response: undefined };
    b.client?.dispose();
    b.unregister?.();
    this.checkComplete();
  }

  private checkComplete(): void {
    if (!this.branches.every((b) => b.done)) return;
    if (!this.finalSent) {
      this.finalSent = true;
      const finals = this.branches.filter((b) => b.final !== undefined);
      const outcomes: BranchOutcome[] = finals.map((b) => ({
        status: (b.final as FinalOutcome).status,
        branch: b.index,
        synthesized: (b.final as FinalOutcome).synthesized,
      }));
      const chosen = finals[bestResponseIndex(outcomes)] as Branch;
      this.forwardBest(chosen.final as FinalOutcome, finals);
    }
    this.maybeRelease();
  }

  private forwardBest(best: FinalOutcome, finals: readonly Branch[]): void {
    const status = upstreamStatus(best.status);
    if (best.text === undefined || best.response === undefined) {
      this.respond(status);
      return;
    }
    let text = best.text;
    if (status !== best.status)
      text = text.replace(/^SIP\/2\.0 \d{3} [^\r\n]*/, `SIP/2.0 ${status} Server Internal Error`);
    if (status === 401 || status === 407) text = mergeChallenges(text, best.response, finals);
    this.sendUpstream(status, text);
  }

  private sendUpstream(status: number, text: string): void {
    try {
      this.server.receiveResponse(status, text);
      this.host.count('forwarded-response');
    } catch {
      // The server transaction refused (e.g. a late provisional after the final): nothing to send.
      this.host.fail('late-response');
    }
  }

  private maybeRelease(): void {
    if (this.released || !this.finalSent || !this.branches.every((b) => b.done)) return;
    this.released = true;
    for (const b of this.branches) b.timer?.cancel();
  }

  /** Stops every branch (proxy shutdown). */
  dispose(): void {
    for (const b of this.branches) {
      b.timer?.cancel();
      b.client?.dispose();
    }
    this.server.dispose();
  }
}

/** The response as it goes upstream: our Via (the top entry) removed, received PAI dropped. */
export function stripOurVia(response: IncomingResponseMessage, maxVia: number): string {
  const vias = viaEntries(response, maxVia).slice(1);
  const lines = [...vias.map((v) => `Via: ${v.raw}`), ...headerLines(response, SKIP_IN_RESPONSE)];
  return render(`SIP/2.0 ${response.statusCode ?? 0} ${response.reasonPhrase ?? ''}`, lines, response.body ?? '');
}

/** §16.7 step 7: a 401/407 carries the challenges of every other 401/407 received for the request. */
function mergeChallenges(text: string, chosen: IncomingResponseMessage, finals: readonly Branch[]): string {
  const extra: string[] = [];
  for (const b of finals) {
    const r = b.final?.response;
    if (!r || r === chosen || (r.statusCode !== 401 && r.statusCode !== 407)) continue;
    for (const v of r.getHeaders('www-authenticate')) extra.push(`WWW-Authenticate: ${v}`);
    for (const v of r.getHeaders('proxy-authenticate')) extra.push(`Proxy-Authenticate: ${v}`);
  }
  if (extra.length === 0) return text;
  const end = text.indexOf('\r\n');
  return `${text.slice(0, end)}\r\n${extra.join('\r\n')}${text.slice(end)}`;
}
