/**
 * The stateful forking proxy core of every peer (RFC 3261 §16, the parts a proxy needs). It listens on any
 * SipTransport (`attach`), never on sockets, and learns where requests go only through the injected
 * TargetResolver / TargetConnector / LocalBindings, so the local SIP interface, AppAttach connections and
 * the app's UA all reach it the same way. Parsing and transactions are sip.js's; this file does the
 * proxy's own steps: validation (§16.3), Route pre-processing (§16.4), target determination (§16.5),
 * forwarding (§16.6), identity (issue 11 item 7) and dispatch of responses to the client transactions.
 *
 * Our host token in Via and Record-Route is `<node-id-hex>.reload.invalid`: stable per peer, unique in the
 * overlay, never resolvable in DNS (RFC 6761 `.invalid`), and it says which peer a Route points at.
 */
import {
  constructOutgoingResponse,
  InviteServerTransaction,
  NonInviteServerTransaction,
  Parser,
  TransactionState,
  IncomingRequestMessage,
  IncomingResponseMessage,
  type URI,
} from 'sip.js/lib/core/index.js';
import { realClock, type Clock } from '../../reload/index';
import { cleanReason, salvageErrorResponse } from '../message/error-response';
import { SipMessageError } from '../message/errors';
import { DEFAULT_SIP_LIMITS, type SipLimits } from '../message/limits';
import { looksLikeRequest, parseSipMessage, type SipMessage } from '../message/parse';
import type { SipTransport } from '../transport/sip-transport';
import { BranchFactory, branchCarriesHash, loopHash } from './branch';
import { verifyCaller } from './identity';
import { findNextHops, peerHost, type NextHop } from './next-hops';
import { SipProxyMessageError, SipProxyOptionError } from './proxy-errors';
import type { AliasesOf, LocalBindings, ProxyTarget, TargetConnector, TargetResolver } from './proxy-interfaces';
import { ResponseContext, type BranchPlan, type ContextHost, type ServerTransaction } from './response-context';
import { aorOf, headerLines, render, routeEntries, viaEntries, type RouteEntry, type ViaEntry } from './sip-text';
import { quietLoggerFactory } from './transaction-io';
import {
  Afterglow,
  RecordingSipJsTransport,
  retransmitFinalResponse,
  RFC3261_TIMERS,
  unreliable,
  type SipTimerValues,
} from './unreliable';

export interface SipProxyOptions {
  /** This peer's Node-ID: names our Via sent-by and Record-Route host. */
  readonly nodeId: Uint8Array;
  readonly resolver: TargetResolver;
  readonly connector: TargetConnector;
  readonly localBindings: LocalBindings;
  /** The peer certificate's user: local and app UAs sending as this AOR (or an alias) are asserted. */
  readonly ownUser?: string;
  readonly aliasesOf?: AliasesOf;
  /**
   * The local SIP interface as a URI (e.g. `sip:127.0.0.1:5060;transport=udp`). Route entries with its
   * host:port are ours too, and a dialog between a local UA and the overlay is record-routed twice (RFC
   * 5658): the local UA reaches us at this address, the far side at our peer token.
   */
  readonly localRouteUri?: string;
  readonly clock?: Clock;
  /** Timer C (RFC 3261 §16.6 step 11, > 3 min), reset by every provisional. Default 180 s. */
  readonly branchTimeoutMs?: number;
  /** Non-INVITE branch limit (timer F's 64*T1). Default 32 s. */
  readonly nonInviteTimeoutMs?: number;
  /** How long a cancelled branch may take to answer 487 before it counts as 408. Default 32 s. */
  readonly cancelGraceMs?: number;
  /** Fork cap (RFC 7904 §8: fork explosion). Default 16. */
  readonly maxBranches?: number;
  /** Concurrent server transactions; beyond it new requests get 503. Default 10,000. */
  readonly maxTransactions?: number;
  /** Default 65,535 characters. */
  readonly maxMessageLength?: number;
  /** Via / Route / Record-Route entries per message. Default 32. */
  readonly maxListEntries?: number;
  /** How long identity checks and target lookup may take before the caller gets 480. Default 10 s. */
  readonly resolveTimeoutMs?: number;
  /** How long an INVITE may wait for a first answer before the proxy sends 100 Trying. Default 200 ms; 0: at once. */
  readonly tryingDelayMs?: number;
  /** T1/T2/T4 for retransmissions on datagram flows (unreliable.ts). Default RFC 3261's 500 ms / 4 s / 5 s. */
  readonly timers?: Partial<SipTimerValues>;
}

export interface SipProxyStatus {
  readonly requestsReceived: number;
  readonly responsesReceived: number;
  readonly requestsForwarded: number;
  readonly responsesForwarded: number;
  readonly transactions: number;
  readonly attachedTransports: number;
  /** Requests and responses sent again on datagram flows (timers A, E, G) and old ones answered (J, I, D). */
  readonly retransmissions: number;
  /** Failures and refusals by reason (`max-forwards`, `loop`, `forbidden-identity`, `not-found`, ...). */
  readonly failures: Readonly<Record<string, number>>;
}

interface ServerEntry {
  readonly tx: ServerTransaction;
  /** What the transaction sent (nothing yet: no 100 Trying was needed so far). */
  readonly adapter: RecordingSipJsTransport;
  context?: ResponseContext;
  /** The caller cancelled while targets were still being looked up. */
  cancelled?: boolean;
}

type Counters = {
  -readonly [K in keyof Omit<SipProxyStatus, 'failures' | 'transactions' | 'attachedTransports'>]: number;
};

const SKIP_FORWARD = new Set(['via', 'route', 'record-route', 'max-forwards', 'content-length', 'p-asserted-identity']);
const DIALOG_CREATING = new Set(['INVITE', 'SUBSCRIBE', 'REFER']);

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 0 || v > 60_000)
    throw new SipProxyOptionError(name, `must be an integer from 0 to 60000, got ${v}`);
  return v;
}

function positive(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v <= 0) throw new SipProxyOptionError(name, `must be a positive integer, got ${v}`);
  return v;
}

export class SipProxy {
  readonly sentBy: string;
  private readonly clock: Clock;
  private readonly loggerFactory = quietLoggerFactory();
  private readonly branches = new BranchFactory();
  private readonly transports = new Map<string, { transport: SipTransport; detach: () => void }>();
  private readonly servers = new Map<string, ServerEntry>();
  private readonly clients = new Map<string, (r: IncomingResponseMessage) => void>();
  private readonly counters: Counters = {
    requestsReceived: 0,
    responsesReceived: 0,
    requestsForwarded: 0,
    responsesForwarded: 0,
    retransmissions: 0,
  };
  private readonly failures = new Map<string, number>();
  private readonly localRoute: URI | undefined;
  private readonly o: Required<
    Pick<
      SipProxyOptions,
      | 'branchTimeoutMs'
      | 'nonInviteTimeoutMs'
      | 'cancelGraceMs'
      | 'maxBranches'
      | 'maxTransactions'
      | 'maxMessageLength'
      | 'maxListEntries'
      | 'resolveTimeoutMs'
      | 'tryingDelayMs'
    >
  >;
  private closed = false;
  private readonly limits: SipLimits;
  private readonly timers: SipTimerValues;
  /** Server ('s|') and client ('c|') transactions sip.js ended but a datagram flow may still hear from. */
  private readonly afterglow: Afterglow;

  constructor(private readonly options: SipProxyOptions) {
    if (!(options.nodeId instanceof Uint8Array) || options.nodeId.length === 0 || options.nodeId.length > 32) {
      throw new SipProxyOptionError('nodeId', 'must be 1..32 bytes');
    }
    this.sentBy = peerHost(options.nodeId);
    this.clock = options.clock ?? realClock;
    this.o = {
      branchTimeoutMs: positive('branchTimeoutMs', options.branchTimeoutMs, 180_000),
      nonInviteTimeoutMs: positive('nonInviteTimeoutMs', options.nonInviteTimeoutMs, 32_000),
      cancelGraceMs: positive('cancelGraceMs', options.cancelGraceMs, 32_000),
      maxBranches: positive('maxBranches', options.maxBranches, 16),
      maxTransactions: positive('maxTransactions', options.maxTransactions, 10_000),
      maxMessageLength: positive('maxMessageLength', options.maxMessageLength, 65_535),
      maxListEntries: positive('maxListEntries', options.maxListEntries, 32),
      resolveTimeoutMs: positive('resolveTimeoutMs', options.resolveTimeoutMs, 10_000),
      tryingDelayMs: nonNegative('tryingDelayMs', options.tryingDelayMs, 200),
    };
    this.timers = {
      t1Ms: positive('timers.t1Ms', options.timers?.t1Ms, RFC3261_TIMERS.t1Ms),
      t2Ms: positive('timers.t2Ms', options.timers?.t2Ms, RFC3261_TIMERS.t2Ms),
      t4Ms: positive('timers.t4Ms', options.timers?.t4Ms, RFC3261_TIMERS.t4Ms),
    };
    this.afterglow = new Afterglow(this.clock, 2 * this.o.maxTransactions);
    this.limits = {
      ...DEFAULT_SIP_LIMITS,
      maxMessageBytes: this.o.maxMessageLength,
      maxVias: this.o.maxListEntries,
    };
    if (options.localRouteUri !== undefined) {
      const parsed = Parser.parseMessage(
        `OPTIONS ${options.localRouteUri} SIP/2.0\r\n\r\n`,
        this.loggerFactory.getLogger('sip.proxy'),
      );
      if (!(parsed instanceof IncomingRequestMessage) || !parsed.ruri) {
        throw new SipProxyOptionError('localRouteUri', 'not a SIP URI');
      }
      this.localRoute = parsed.ruri;
    }
  }

  /**
   * Our Via sent-by on a request to `transport`. A UA answers to the sent-by, at port 5060 when it names none
   * (RFC 3261 §18.2.2; baresip does, sipp answers the source port): towards a phone on the local interface it
   * is the interface's own address and port. Towards peers it is the peer token (responses follow the flow).
   */
  private sentByFor(transport: SipTransport): string {
    const local = this.localRoute;
    if (transport.party.kind === 'local' && local) return `${local.host}:${local.port ?? 5060}`;
    return this.sentBy;
  }

  /** True when a response's top Via entry is one we write (sentByFor). */
  private isOurVia(top: ViaEntry): boolean {
    if (top.host === this.sentBy) return true;
    const local = this.localRoute;
    return local !== undefined && top.host === local.host.toLowerCase() && (top.port ?? 5060) === (local.port ?? 5060);
  }

  /** The URI this proxy records in Record-Route towards other peers. */
  get recordRouteUri(): string {
    return `sip:${this.sentBy};lr`;
  }

  /** Starts taking messages from `transport` (idempotent); returns a detach function. */
  attach(transport: SipTransport): () => void {
    const existing = this.transports.get(transport.id);
    if (existing) return existing.detach;
    const offMessage = transport.onMessage((m, parsed) => this.receive(transport, m, parsed));
    const offClose = transport.onClose(() => detach());
    const detach = (): void => {
      offMessage();
      offClose();
      if (this.transports.get(transport.id)?.transport === transport) this.transports.delete(transport.id);
    };
    this.transports.set(transport.id, { transport, detach });
    return detach;
  }

  status(): SipProxyStatus {
    return {
      ...this.counters,
      transactions: this.servers.size,
      attachedTransports: this.transports.size,
      failures: Object.fromEntries(this.failures),
    };
  }

  /** Detaches every transport and stops every transaction and timer. */
  close(): void {
    this.closed = true;
    for (const { detach } of [...this.transports.values()]) detach();
    for (const { tx, context } of this.servers.values()) {
      if (context) context.dispose();
      else tx.dispose();
    }
    this.servers.clear();
    this.clients.clear();
    this.afterglow.clear();
  }

  private fail(reason: string): void {
    this.failures.set(reason, (this.failures.get(reason) ?? 0) + 1);
  }

  private receive(transport: SipTransport, text: string, parsed: SipMessage | undefined): void {
    if (this.closed) return;
    if (text.length > this.o.maxMessageLength) {
      this.fail('oversized');
      return;
    }
    // A transport that already ran parseSipMessage hands its result over: one parse per message and hop.
    let message: SipMessage | undefined = parsed;
    if (!message) {
      try {
        message = parseSipMessage(text, this.limits);
      } catch (error) {
        // The same refusals as at the local interface, for what another peer sends (hostile too).
        this.fail('unparseable');
        if (error instanceof SipMessageError && looksLikeRequest(text) && !/^\s*ACK\s/.test(text)) {
          const answer = salvageErrorResponse(text, error.status, error.message);
          if (answer !== undefined) transport.send(answer).catch(() => this.fail('send-failed'));
        }
        return;
      }
    }
    if (message instanceof IncomingResponseMessage) {
      this.counters.responsesReceived++;
      this.receiveResponse(transport, message);
    } else if (message instanceof IncomingRequestMessage) {
      this.counters.requestsReceived++;
      try {
        this.receiveRequest(transport, message);
      } catch (e) {
        this.fail(e instanceof SipProxyMessageError ? 'malformed' : 'internal');
        if (e instanceof SipProxyMessageError && message.method !== 'ACK')
          this.statelessReply(transport, message, 400, e.message);
      }
    }
  }

  private receiveResponse(transport: SipTransport, response: IncomingResponseMessage): void {
    let top;
    try {
      top = viaEntries(response, this.o.maxListEntries, this.sentBy)[0];
    } catch {
      this.fail('malformed-response');
      return;
    }
    // Responses travel back by the Via stack: the top entry must be ours, naming the client transaction.
    if (!top || !this.isOurVia(top) || top.branch === undefined || response.method === undefined) {
      this.fail('stray-response');
      return;
    }
    const key = clientKey(transport.id, top.branch, response.method);
    const deliver = this.clients.get(key);
    if (!deliver) {
      // Timer D's job: our ACK for a non-2xx final got lost and the final comes again.
      const ended = response.method === 'INVITE' ? this.afterglow.recall(`c|${key}`) : undefined;
      if (ended?.reply !== undefined && (response.statusCode ?? 0) >= 300) {
        this.counters.retransmissions++;
        transport.send(ended.reply).catch(() => this.fail('send-failed'));
        return;
      }
      this.fail('stray-response');
      return;
    }
    try {
      deliver(response);
    } catch {
      this.fail('malformed-response');
    }
  }

  private checkBasics(request: IncomingRequestMessage): void {
    if (!request.ruri) throw new SipProxyMessageError('Request-URI', 'missing');
    for (const h of ['from', 'to', 'call-id', 'cseq'] as const) {
      if (!request.hasHeader(h)) throw new SipProxyMessageError(h, 'missing');
    }
    const cseq = request.parseHeader('cseq') as { method?: string } | undefined;
    if (!cseq || cseq.method !== request.method)
      throw new SipProxyMessageError('CSeq', 'method differs from the request');
    if (!request.from || !request.to) throw new SipProxyMessageError('From', 'unparseable');
  }

  private receiveRequest(transport: SipTransport, request: IncomingRequestMessage): void {
    const vias = viaEntries(request, this.o.maxListEntries, this.sentBy);
    const top = vias[0];
    if (!top) {
      this.fail('malformed');
      return; // nowhere to send a response
    }
    if (top.branch === undefined || !top.branch.startsWith('z9hG4bK')) {
      throw new SipProxyMessageError('Via', 'branch without the RFC 3261 magic cookie');
    }
    this.checkBasics(request);
    const method = request.method;
    const key = (m: string): string => `${transport.id}|${top.branch}|${m}`;
    if (method === 'ACK') {
      const invite = this.servers.get(key('INVITE'));
      if (invite && invite.tx.state !== TransactionState.Accepted) {
        invite.tx.receiveRequest(request); // ACK for a non-2xx: part of that transaction
        return;
      }
      // Timer I's job: a retransmitted ACK for a non-2xx final whose transaction sip.js already ended.
      if (!invite && (this.afterglow.recall(`s|${key('INVITE')}`)?.status ?? 0) >= 300) return;
      this.forwardAck(
        transport,
        request,
        vias.map((v) => v.raw),
      ).catch(() => this.fail('malformed'));
      return;
    }
    const existing = this.servers.get(key(method));
    if (existing) {
      existing.tx.receiveRequest(request); // a retransmission
      return;
    }
    // Timer J's job: a retransmitted non-INVITE request whose transaction sip.js already ended.
    const ended = this.afterglow.recall(`s|${key(method)}`);
    if (ended) {
      if (ended.reply !== undefined) {
        this.counters.retransmissions++;
        transport.send(ended.reply).catch(() => this.fail('send-failed'));
      }
      return;
    }
    if (this.servers.size >= this.o.maxTransactions) {
      this.fail('overload');
      this.statelessReply(transport, request, 503, 'Service Unavailable');
      return;
    }
    const ruri = request.ruri as URI;
    if (ruri.scheme !== 'sip' && ruri.scheme !== 'sips') {
      this.fail('unsupported-scheme');
      this.statelessReply(transport, request, 416, 'Unsupported URI Scheme');
      return;
    }
    const maxForwards = this.maxForwards(request); // throws (-> 400) before any transaction exists
    const tx = this.serverTransaction(transport, request, key(method));
    if (method === 'CANCEL') {
      this.answerCancel(request, tx, this.servers.get(key('INVITE')));
      return;
    }
    const entry = this.servers.get(key(method));
    if (method === 'INVITE' && entry) this.tryingUnlessAnswered(request, entry);
    const reply = (status: number, reason: string, failure: string): void => {
      this.fail(failure);
      const text = constructOutgoingResponse(request, {
        statusCode: status,
        reasonPhrase: cleanReason(reason),
      }).message;
      try {
        tx.receiveResponse(status, text);
      } catch {
        this.fail('late-response');
      }
    };
    if (maxForwards === 0) {
      reply(483, 'Too Many Hops', 'max-forwards');
      return;
    }
    const hash = loopHash(request);
    if (vias.some((v) => v.host === this.sentBy && branchCarriesHash(v.branch, hash))) {
      reply(482, 'Loop Detected', 'loop');
      return;
    }
    // A lookup that never settles must not pin the transaction (and its memory) forever.
    const guard = this.clock.setTimeout(() => {
      if (awaitingFinal(tx) && !entry?.context) reply(480, 'Temporarily Unavailable', 'resolve-timeout');
    }, this.o.resolveTimeoutMs);
    void this.route(
      transport,
      request,
      vias.map((v) => v.raw),
      maxForwards,
      tx,
      reply,
    ).then(
      (plans) => {
        guard.cancel();
        if (plans === undefined || !entry || this.closed || !awaitingFinal(tx)) return;
        if (entry.cancelled) {
          reply(487, 'Request Terminated', 'cancelled');
          return;
        }
        const context = new ResponseContext(this.contextHost(hash), request, tx, plans);
        entry.context = context;
        context.start();
      },
      (e: unknown) => {
        guard.cancel();
        if (!awaitingFinal(tx)) return;
        if (e instanceof SipProxyMessageError) reply(400, cleanReason(e.message).slice(0, 100), 'malformed');
        else reply(500, 'Server Internal Error', 'internal');
      },
    );
  }

  /**
   * RFC 3261 §17.2.1 (and §16.2 for proxies): an INVITE server transaction sends 100 Trying unless the TU
   * answers within 200 ms. Most calls ring sooner: no 100 then, one message less on every hop each way.
   */
  private tryingUnlessAnswered(request: IncomingRequestMessage, entry: ServerEntry): void {
    const send = (): void => {
      if (entry.tx.state !== TransactionState.Proceeding || entry.adapter.last !== undefined) return;
      entry.tx.receiveResponse(100, constructOutgoingResponse(request, { statusCode: 100 }).message);
    };
    if (this.o.tryingDelayMs === 0) send();
    else this.clock.setTimeout(send, this.o.tryingDelayMs);
  }

  private maxForwards(request: IncomingRequestMessage): number {
    if (!request.hasHeader('max-forwards')) return 70;
    const v = request.parseHeader('max-forwards') as number | undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 255) {
      throw new SipProxyMessageError('Max-Forwards', 'not an integer 0..255');
    }
    return v;
  }

  private isOwn(uri: URI): boolean {
    if (uri.host.toLowerCase() === this.sentBy) return true;
    const local = this.localRoute;
    return (
      local !== undefined &&
      uri.host.toLowerCase() === local.host.toLowerCase() &&
      (uri.port ?? 5060) === (local.port ?? 5060)
    );
  }

  /** §16.4: our own entries leave the Route set; a strict router before us left its route in the R-URI. */
  private preprocessRoutes(request: IncomingRequestMessage): { ruri: URI; routes: RouteEntry[] } {
    let routes = routeEntries(request, 'route', this.o.maxListEntries);
    let ruri = request.ruri as URI;
    if (this.isOwn(ruri) && routes.length > 0) {
      ruri = (routes[routes.length - 1] as RouteEntry).uri;
      routes = routes.slice(0, -1);
    }
    while (routes[0] !== undefined && this.isOwn(routes[0].uri)) routes = routes.slice(1);
    return { ruri, routes };
  }

  /** Identity, routing and per-branch requests; undefined when the request was already answered. */
  private async route(
    inbound: SipTransport,
    request: IncomingRequestMessage,
    vias: readonly string[],
    maxForwards: number,
    tx: ServerTransaction,
    reply: (status: number, reason: string, failure: string) => void,
  ): Promise<BranchPlan[] | undefined> {
    const verdict = await verifyCaller(
      inbound.party,
      aorOf(request.from.uri),
      this.options.ownUser,
      this.options.aliasesOf,
    );
    if (!verdict.allowed) {
      reply(403, 'Forbidden', 'forbidden-identity');
      return undefined;
    }
    const { ruri, routes } = this.preprocessRoutes(request);
    const inDialog = request.toTag !== undefined && request.toTag !== '';
    const found = await findNextHops(
      {
        nodeId: this.options.nodeId,
        resolver: this.options.resolver,
        localBindings: this.options.localBindings,
        maxBranches: this.o.maxBranches,
      },
      ruri,
      routes[0]?.uri,
      inDialog,
    );
    if (!awaitingFinal(tx) || this.closed) return undefined;
    if ('failure' in found) {
      reply(found.status, reasonFor(found.status), found.failure);
      return undefined;
    }
    const recordRoute = DIALOG_CREATING.has(request.method) && !inDialog;
    return found.hops.map((hop) => ({
      hop,
      parts: this.forwardParts(request, inbound, hop, vias, routes, maxForwards - 1, recordRoute, verdict.asserted),
    }));
  }

  private forwardParts(
    request: IncomingRequestMessage,
    inbound: SipTransport,
    hop: NextHop,
    vias: readonly string[],
    routes: readonly RouteEntry[],
    maxForwards: number,
    recordRoute: boolean,
    asserted: string | undefined,
  ): BranchPlan['parts'] {
    const lines = vias.map((v) => `Via: ${v}`);
    if (recordRoute) {
      const fromLocal = inbound.party.kind !== 'overlay';
      const toLocal = hop.kind === 'local';
      const peerEntry = `Record-Route: <${this.recordRouteUri}>`;
      if (this.localRoute && fromLocal !== toLocal) {
        const localEntry = `Record-Route: <${this.localRoute.toString()};lr>`;
        // The UAS uses the Record-Route list top first, the UAC bottom first: each side's entry faces it.
        lines.push(...(toLocal ? [localEntry, peerEntry] : [peerEntry, localEntry]));
      } else lines.push(peerEntry);
    }
    for (const rr of request.getHeaders('record-route')) lines.push(`Record-Route: ${rr}`);
    const routeValues = routes.map((r) => r.raw);
    for (const r of routeValues) lines.push(`Route: ${r}`);
    lines.push(`Max-Forwards: ${maxForwards}`);
    lines.push(...headerLines(request, SKIP_FORWARD));
    if (asserted !== undefined && hop.kind === 'local') lines.push(`P-Asserted-Identity: <sip:${asserted}>`);
    return {
      method: request.method,
      ruri: hop.ruri,
      fromUri: request.from.uri,
      toUri: request.to.uri,
      fromTag: request.fromTag ?? '',
      toTag: request.toTag,
      callId: request.callId,
      cseq: request.cseq,
      from: request.getHeader('from') ?? '',
      to: request.getHeader('to') ?? '',
      routes: routeValues,
      lines,
      body: request.body ?? '',
    };
  }

  /** ACK for a 2xx is end to end (§16.6 onwards, no transaction): forwarded by Route / Request-URI. */
  private async forwardAck(inbound: SipTransport, ack: IncomingRequestMessage, vias: readonly string[]): Promise<void> {
    const maxForwards = this.maxForwards(ack);
    if (maxForwards === 0) {
      this.fail('max-forwards');
      return;
    }
    const verdict = await verifyCaller(
      inbound.party,
      aorOf(ack.from.uri),
      this.options.ownUser,
      this.options.aliasesOf,
    );
    if (!verdict.allowed) {
      this.fail('forbidden-identity');
      return;
    }
    const { ruri, routes } = this.preprocessRoutes(ack);
    const found = await findNextHops(
      {
        nodeId: this.options.nodeId,
        resolver: this.options.resolver,
        localBindings: this.options.localBindings,
        maxBranches: 1,
      },
      ruri,
      routes[0]?.uri,
      true,
    );
    if ('failure' in found) {
      this.fail(`ack-${found.failure}`);
      return;
    }
    const hop = found.hops[0];
    if (!hop) return;
    try {
      const transport = hop.kind === 'local' ? hop.binding.transport : await this.connectTarget(hop.target);
      const parts = this.forwardParts(ack, inbound, hop, vias, routes, maxForwards - 1, false, verdict.asserted);
      const via = `Via: SIP/2.0/${transport.protocol} ${this.sentByFor(transport)};branch=${this.branches.next(loopHash(ack))}`;
      await transport.send(render(`ACK ${hop.ruri.toString()} SIP/2.0`, [via, ...parts.lines], parts.body));
      this.counters.requestsForwarded++;
    } catch {
      this.fail('ack-unreachable');
    }
  }

  private answerCancel(cancel: IncomingRequestMessage, tx: ServerTransaction, invite: ServerEntry | undefined): void {
    // §16.10: a CANCEL matches an INVITE that arrived on the same flow with the same branch (so one party
    // cannot cancel another's call); it is answered here and never forwarded as such.
    const status = invite ? 200 : 481;
    if (!invite) this.fail('cancel-unmatched');
    tx.receiveResponse(status, constructOutgoingResponse(cancel, { statusCode: status }).message);
    if (!invite) return;
    if (invite.context) invite.context.cancelByCaller();
    else invite.cancelled = true;
  }

  private serverTransaction(transport: SipTransport, request: IncomingRequestMessage, key: string): ServerTransaction {
    const adapter = new RecordingSipJsTransport(transport);
    const user = { loggerFactory: this.loggerFactory };
    const tx: ServerTransaction =
      request.method === 'INVITE'
        ? new InviteServerTransaction(request, adapter, user)
        : new NonInviteServerTransaction(request, adapter, user);
    this.servers.set(key, { tx, adapter });
    if (tx instanceof InviteServerTransaction)
      retransmitFinalResponse(this.clock, this.timers, transport, tx, adapter, () => this.counters.retransmissions++);
    tx.addStateChangeListener(() => {
      if (tx.state !== TransactionState.Terminated) return;
      if (this.servers.get(key)?.tx === tx) this.servers.delete(key);
      const last = adapter.last;
      if (!unreliable(transport) || this.closed || last === undefined) return;
      // sip.js ends at once what timers J (64*T1) and I (T4) would keep on an unreliable flow.
      const status = Number(/^SIP\/2\.0 (\d{3})/.exec(last)?.[1] ?? 0);
      if (request.method === 'INVITE') this.afterglow.remember(`s|${key}`, status, undefined, this.timers.t4Ms);
      else this.afterglow.remember(`s|${key}`, status, last, 64 * this.timers.t1Ms);
    });
    return tx;
  }

  private statelessReply(
    transport: SipTransport,
    request: IncomingRequestMessage,
    status: number,
    reason: string,
  ): void {
    let text: string;
    try {
      text = constructOutgoingResponse(request, {
        statusCode: status,
        reasonPhrase: cleanReason(reason).slice(0, 100),
      }).message;
    } catch {
      return; // not even a response can be built from it
    }
    transport.send(text).catch(() => this.fail('send-failed'));
  }

  private async connectTarget(target: ProxyTarget): Promise<SipTransport> {
    const transport = await this.options.connector.connect(target);
    this.attach(transport);
    return transport;
  }

  private contextHost(hash: string): ContextHost {
    return {
      loggerFactory: this.loggerFactory,
      clock: this.clock,
      sentByFor: (transport) => this.sentByFor(transport),
      branchTimeoutMs: this.o.branchTimeoutMs,
      nonInviteTimeoutMs: this.o.nonInviteTimeoutMs,
      cancelGraceMs: this.o.cancelGraceMs,
      maxViaEntries: this.o.maxListEntries,
      timers: this.timers,
      retransmitted: () => void this.counters.retransmissions++,
      rememberClientEnd: (transport, branch, ack) =>
        this.afterglow.remember(`c|${clientKey(transport.id, branch, 'INVITE')}`, 0, ack, 64 * this.timers.t1Ms),
      connect: (target) => this.connectTarget(target),
      listen: (transport) => void this.attach(transport),
      registerClient: (transport, branch, method, onResponse) => {
        const key = clientKey(transport.id, branch, method);
        this.clients.set(key, onResponse);
        return () => {
          if (this.clients.get(key) === onResponse) this.clients.delete(key);
        };
      },
      nextBranch: () => this.branches.next(hash),
      count: (event) => {
        if (event === 'forwarded-request') this.counters.requestsForwarded++;
        else this.counters.responsesForwarded++;
      },
      fail: (reason) => this.fail(reason),
    };
  }
}

/** No final response sent yet (a guard may have answered while a lookup was still running). */
function awaitingFinal(tx: ServerTransaction): boolean {
  return tx.state === TransactionState.Trying || tx.state === TransactionState.Proceeding;
}

function clientKey(flow: string, branch: string, method: string): string {
  return `${flow}|${branch}|${method}`;
}

function reasonFor(status: number): string {
  switch (status) {
    case 404:
      return 'Not Found';
    case 480:
      return 'Temporarily Unavailable';
    case 482:
      return 'Loop Detected';
    default:
      return 'Server Internal Error';
  }
}
