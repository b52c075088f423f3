/**
 * Message transport (RFC 6940 §6.1–6.3): receives messages from links, forwards them hop by hop with
 * symmetric recursive routing (the via list records the path; responses follow it back), delivers the
 * ones for this node after reassembly and signature verification, and runs end-to-end transactions with
 * retransmission and equivalent responses. Routing decisions come from a Topology. Time comes from a
 * Clock, so the same code runs on sockets and in simulations.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../../common/logger';
import type { Clock, TimerHandle } from '../clock';
import { findSignerCertificate, signMessage, verifyMessage, type Signer } from '../crypto';
import { readCertificate, type TrustPolicy, type ValidatedIdentity } from '../identity';
import { LinkCongestedError, type Link } from '../link/link';
import {
  bytesEqual,
  decodeBody,
  decodeContext,
  decodeHeader,
  decodeMessage,
  ErrorCode,
  ForwardingOptionFlag,
  fragmentMessage,
  isRequestCode,
  MessageCode,
  Reassembler,
  ReloadDecodeError,
  replaceHeader,
  toHex,
  UNFRAGMENTED,
  type Body,
  type DecodeContext,
  type DecodedMessage,
  type Destination,
  type ForwardingHeader,
  type HeaderInput,
} from '../wire';
import { ErrorResponseError, NoRouteError, RequestTimeoutError } from './errors';
import type { Topology } from './topology';
import { LoopbackLink } from './loopback-link';

/** Forwarding option types this implementation understands (none yet beyond the base protocol). */
const KNOWN_OPTIONS: ReadonlySet<number> = new Set();
const MAX_REQUEST_LIFETIME_MS = 15_000;
const TRANSMISSIONS = 5;

export interface TransportOptions {
  nodeId: Uint8Array;
  overlay: number;
  configSequence: number;
  initialTtl: number;
  reliabilityTimerMs: number;
  maxMessageSize: number;
  nodeIdLength: number;
  signer: Signer;
  policy: TrustPolicy;
  topology: Topology;
  clock: Clock;
  log: Logger;
  dataModelOf?: DecodeContext['dataModelOf'];
}

export interface IncomingRequest {
  message: DecodedMessage;
  body: Body;
  /** Whoever signed the request, per its verified certificate. */
  from: ValidatedIdentity;
  link: Link;
  /** Certificates the answer's security block must carry besides ours (e.g. stored values' signers). */
  responseCertificates: Uint8Array[];
}

/** Thrown by a request handler to answer with an ErrorResponse. */
export class ErrorAnswer extends Error {
  constructor(
    readonly errorCode: number,
    readonly info: string,
    /** error_info bytes when the code defines them (e.g. a StoreAns for Error_Generation_Counter_Too_Low). */
    readonly errorInfo?: Uint8Array,
  ) {
    super(info);
    this.name = 'ErrorAnswer';
  }
}

export interface TransportCounters {
  messagesIn: number;
  messagesOut: number;
  forwarded: number;
  delivered: number;
  retransmissions: number;
  errorsSent: number;
  dropped: Record<string, number>;
}

export interface RequestOptions {
  /** Largest response we accept (0: no limit). */
  maxResponseLength?: number;
  /** The link to send on when neither the connection table nor the topology has a route (bootstrap). */
  via?: Link;
  /** Certificates to carry besides ours (a Store carries those of its values' signers). */
  certificates?: readonly Uint8Array[];
}

export interface Answer {
  message: DecodedMessage;
  body: Body;
  /** Who signed the answer, per its verified certificate. */
  from: ValidatedIdentity;
}

interface Pending {
  destination: Destination;
  resolve: (r: Answer) => void;
  reject: (e: Error) => void;
  timer: TimerHandle | undefined;
}

export class MessageTransport {
  private readonly links = new Map<string, Link>();
  private loopback: LoopbackLink | undefined;
  private readonly pending = new Map<bigint, Pending>();
  /** Responses we sent, so a retransmitted request gets the same answer (RFC 6940 §6.2.1). */
  private readonly answered = new Map<bigint, { bytes: Uint8Array; expires: number }>();
  private readonly reassembler: Reassembler;
  private readonly ctx: DecodeContext;
  private handler: ((request: IncomingRequest) => Promise<Body> | Body) | undefined;
  readonly counters: TransportCounters = {
    messagesIn: 0,
    messagesOut: 0,
    forwarded: 0,
    delivered: 0,
    retransmissions: 0,
    errorsSent: 0,
    dropped: {},
  };

  constructor(private readonly o: TransportOptions) {
    this.ctx = decodeContext({
      maxMessageSize: o.maxMessageSize,
      nodeIdLength: o.nodeIdLength,
      ...(o.dataModelOf ? { dataModelOf: o.dataModelOf } : {}),
    });
    this.reassembler = new Reassembler(this.ctx, { timeoutMs: MAX_REQUEST_LIFETIME_MS });
  }

  /** Is there an open link to this Node-ID? */
  linkTo(nodeId: Uint8Array): Link | undefined {
    const link = this.links.get(toHex(nodeId));
    return link && !link.closed ? link : undefined;
  }

  /** Puts a link in the connection table under every Node-ID its certificate carries. */
  addLink(link: Link): void {
    for (const id of link.peer.nodeIds) this.links.set(toHex(id), link);
    link.onMessage((bytes) => this.receive(bytes, link));
    link.onClose(() => {
      for (const id of link.peer.nodeIds) if (this.links.get(toHex(id)) === link) this.links.delete(toHex(id));
    });
  }

  handle(handler: (request: IncomingRequest) => Promise<Body> | Body): void {
    this.handler = handler;
  }

  /** Sends a request and resolves with the (verified) response; retransmits with the same transaction id. */
  request(destinationList: Destination[], body: Body, options: RequestOptions = {}): Promise<Answer> {
    const transactionId = randomBytes(8).readBigUInt64BE(0);
    const header: HeaderInput = {
      overlay: this.o.overlay,
      configurationSequence: this.o.configSequence,
      version: 0x0a,
      ttl: this.o.initialTtl,
      transactionId,
      maxResponseLength: options.maxResponseLength ?? 0,
      viaList: [],
      destinationList,
      options: [],
    };
    const bytes = signMessage(
      header,
      { body, extensions: [] },
      this.o.signer,
      { nodeIdLength: this.o.nodeIdLength },
      options.certificates,
    );
    // A request sent `via` a link (bootstrap) is for whoever is behind it, even if our lone table says "me".
    const local = () => (options.via ? undefined : this.local(destinationList));
    const link = local() ?? this.route(destinationList[0] as Destination) ?? options.via;
    if (!link) return Promise.reject(new NoRouteError(`no route towards ${describe(destinationList[0])}`));
    return new Promise((resolve, reject) => {
      const entry: Pending = { destination: destinationList.at(-1) as Destination, resolve, reject, timer: undefined };
      this.pending.set(transactionId, entry);
      let sends = 0;
      const transmit = () => {
        if (!this.pending.has(transactionId)) return;
        if (sends === TRANSMISSIONS) {
          this.pending.delete(transactionId);
          reject(new RequestTimeoutError(`no answer to ${body.method} after ${TRANSMISSIONS} transmissions`));
          return;
        }
        if (sends > 0) this.counters.retransmissions++;
        sends++;
        const current = local() ?? this.route(destinationList[0] as Destination) ?? link;
        this.sendOn(current, bytes);
        entry.timer = this.o.clock.setTimeout(transmit, this.o.reliabilityTimerMs);
      };
      transmit();
    });
  }

  // ----------------------------------------------------------------------------------------- receiving

  private receive(bytes: Uint8Array, from: Link): void {
    this.counters.messagesIn++;
    let view;
    try {
      view = decodeHeader(bytes, this.ctx);
    } catch (error) {
      if (error instanceof ReloadDecodeError) return this.drop('malformed', error.message);
      throw error;
    }
    const h = view.header;
    if (h.overlay !== this.o.overlay) return this.drop('other-overlay');
    const request = (): boolean => isRequestCode(peekCode(bytes, view.headerLength, h));
    if (h.ttl > this.o.initialTtl) {
      if (request())
        this.answerError(h, from, ErrorCode.TTL_Exceeded, `TTL ${h.ttl} exceeds initial-ttl ${this.o.initialTtl}`);
      return this.drop('ttl-too-high');
    }
    // Requests only: a response retraces the request's via list, which names a node twice if the request
    // looped while routing changed (peers joining) — dropping it would leave the requester to time out.
    const seen = new Set<string>();
    for (const d of request() ? h.destinationList : []) {
      const key = describe(d);
      if (seen.has(key)) {
        this.answerError(h, from, ErrorCode.Invalid_Message, 'duplicate entries in the destination list');
        return this.drop('duplicate-destination');
      }
      seen.add(key);
    }
    const list = [...h.destinationList];
    while (list.length > 0) {
      const first = list[0] as Destination;
      if (first.type === 'node') {
        if (bytesEqual(first.id, this.o.nodeId)) {
          if (list.length === 1) return this.deliver(bytes, h, from);
          list.shift();
          continue;
        }
        return this.forward(bytes, view, list, from);
      }
      if (first.type === 'resource') {
        if (list.length !== 1) return this.drop('resource-not-last');
        if (this.o.topology.isResponsible(first.id)) return this.deliver(bytes, h, from);
        return this.forward(bytes, view, list, from);
      }
      return this.drop('opaque-destination'); // we never compress, so no opaque id can be ours
    }
  }

  private forward(
    bytes: Uint8Array,
    view: { header: ForwardingHeader; headerLength: number },
    list: Destination[],
    from: Link,
  ): void {
    const h = view.header;
    const isRequest = isRequestCode(peekCode(bytes, view.headerLength, h));
    const unknownCritical = h.options.find(
      (o) => o.flags & ForwardingOptionFlag.FORWARD_CRITICAL && !KNOWN_OPTIONS.has(o.type),
    );
    if (unknownCritical) {
      if (isRequest)
        this.answerError(h, from, ErrorCode.Unsupported_Forwarding_Option, `forwarding option ${unknownCritical.type}`);
      return this.drop('unsupported-option');
    }
    if (h.ttl === 0) {
      if (isRequest) this.answerError(h, from, ErrorCode.TTL_Exceeded, 'TTL reached 0');
      return this.drop('ttl-exceeded');
    }
    const next = this.route(list[0] as Destination);
    if (!next) return this.drop('no-route');
    const previous = from.peer.nodeIds[0] as Uint8Array;
    const rewritten = replaceHeader(
      bytes,
      view,
      { ...h, ttl: h.ttl - 1, viaList: [...h.viaList, { type: 'node', id: previous }], destinationList: list },
      { nodeIdLength: this.o.nodeIdLength },
    );
    this.counters.forwarded++;
    this.sendOn(next, rewritten);
  }

  private deliver(bytes: Uint8Array, h: ForwardingHeader, from: Link): void {
    let whole = bytes;
    if (h.fragment !== UNFRAGMENTED) {
      const result = this.reassembler.add(bytes, this.o.clock.now());
      if (result.status !== 'complete') {
        if (result.status === 'dropped') this.drop('reassembly', result.reason);
        return;
      }
      whole = result.message;
    }
    let message: DecodedMessage;
    try {
      message = decodeMessage(whole, this.ctx);
    } catch (error) {
      if (error instanceof ReloadDecodeError) return this.drop('malformed', error.message);
      throw error;
    }
    const signer = this.verify(message);
    if (!signer) return this.drop('signature');
    this.counters.delivered++;
    if (isRequestCode(message.contents.code)) void this.serve(message, signer, from);
    else this.settle(message, signer);
  }

  /** Verifies the message signature and the signer's certificate; undefined when either fails. */
  private verify(message: DecodedMessage): ValidatedIdentity | undefined {
    const nodeIdsOf = (der: Uint8Array) => {
      try {
        return readCertificate(der, this.o.policy.settings.overlay, this.o.nodeIdLength).nodeIds;
      } catch {
        return [];
      }
    };
    const found = findSignerCertificate(message.security.signature.identity, message.security.certificates, nodeIdsOf);
    if (!found) return undefined;
    try {
      const identity = this.o.policy.validate(found.certificate);
      return verifyMessage(message, identity.certificate.publicKey) ? identity : undefined;
    } catch {
      return undefined;
    }
  }

  private async serve(message: DecodedMessage, signer: ValidatedIdentity, from: Link): Promise<void> {
    const h = message.header;
    const cached = this.answered.get(h.transactionId);
    if (cached && cached.expires > this.o.clock.now()) {
      this.sendOn(from, cached.bytes);
      return;
    }
    let reply: Body;
    const responseCertificates: Uint8Array[] = [];
    if (
      h.configurationSequence !== this.o.configSequence &&
      !(message.contents.code === MessageCode.config_update_req && h.configurationSequence === 0xffff)
    ) {
      const older = serialLess(h.configurationSequence, this.o.configSequence);
      reply = errorBody(
        older ? ErrorCode.Config_Too_Old : ErrorCode.Config_Too_New,
        `configuration sequence ${h.configurationSequence}, ours ${this.o.configSequence}`,
      );
    } else if (
      h.options.some((o) => o.flags & ForwardingOptionFlag.DESTINATION_CRITICAL && !KNOWN_OPTIONS.has(o.type))
    ) {
      reply = errorBody(
        ErrorCode.Unsupported_Forwarding_Option,
        'destination-critical forwarding option not understood',
      );
    } else if (message.contents.extensions.some((e) => e.critical)) {
      reply = errorBody(ErrorCode.Unknown_Extension, 'critical message extension not understood');
    } else {
      try {
        const body = decodeBody(message.contents.code, message.contents.body, this.ctx);
        if (!this.handler) throw new ErrorAnswer(ErrorCode.Not_Found, `no handler for ${body.method}`);
        reply = await this.handler({ message, body, from: signer, link: from, responseCertificates });
      } catch (error) {
        if (error instanceof ErrorAnswer)
          reply = error.errorInfo
            ? { method: 'error', value: { errorCode: error.errorCode, errorInfo: error.errorInfo } }
            : errorBody(error.errorCode, error.info);
        else if (error instanceof ReloadDecodeError) reply = errorBody(ErrorCode.Invalid_Message, error.message);
        else {
          this.o.log.error('request handler failed', { error });
          reply = errorBody(ErrorCode.Invalid_Message, 'the request could not be processed');
        }
      }
    }
    let bytes = this.responseBytes(h, from, reply, responseCertificates);
    if (h.maxResponseLength !== 0 && bytes.length > h.maxResponseLength) {
      bytes = this.responseBytes(
        h,
        from,
        errorBody(ErrorCode.Response_Too_Large, `response of ${bytes.length} bytes exceeds ${h.maxResponseLength}`),
      );
    }
    this.answered.set(h.transactionId, { bytes, expires: this.o.clock.now() + MAX_REQUEST_LIFETIME_MS });
    this.pruneAnswered();
    this.sendOn(from, bytes);
  }

  private settle(message: DecodedMessage, signer: ValidatedIdentity): void {
    const pending = this.pending.get(message.header.transactionId);
    if (!pending) return this.drop('unexpected-response');
    // A response to a request for a Node-ID must come from that node (RFC 6940 §6.3.4).
    const target = pending.destination;
    if (target.type === 'node' && !signer.nodeIds.some((id) => bytesEqual(id, target.id))) {
      if (message.contents.code !== MessageCode.error) return this.drop('response-from-wrong-node');
    }
    this.pending.delete(message.header.transactionId);
    pending.timer?.cancel();
    let body: Body;
    try {
      body = decodeBody(message.contents.code, message.contents.body, this.ctx);
    } catch (error) {
      pending.reject(error as Error);
      return;
    }
    if (body.method === 'error')
      pending.reject(new ErrorResponseError(body.value.errorCode, body.value.errorInfo, signer.nodeIds[0]));
    else pending.resolve({ message, body, from: signer });
  }

  // ------------------------------------------------------------------------------------------ sending

  /** Response (or error) to a request: back along the reversed via list, starting with the hop it came from. */
  private responseBytes(
    request: ForwardingHeader,
    from: Link,
    body: Body,
    certificates: readonly Uint8Array[] = [],
  ): Uint8Array {
    const back: Destination[] = [
      { type: 'node', id: from.peer.nodeIds[0] as Uint8Array },
      ...[...request.viaList].reverse(),
    ];
    const header: HeaderInput = {
      overlay: this.o.overlay,
      configurationSequence: this.o.configSequence,
      version: 0x0a,
      ttl: this.o.initialTtl,
      transactionId: request.transactionId,
      maxResponseLength: 0,
      viaList: [],
      destinationList: back,
      options: [],
    };
    return signMessage(
      header,
      { body, extensions: [] },
      this.o.signer,
      { nodeIdLength: this.o.nodeIdLength },
      certificates,
    );
  }

  private answerError(request: ForwardingHeader, from: Link, code: number, info: string): void {
    this.counters.errorsSent++;
    this.sendOn(from, this.responseBytes(request, from, errorBody(code, info)));
  }

  /** The loopback link when the (single) destination is us or a Resource-ID we are responsible for. */
  private local(destinationList: Destination[]): Link | undefined {
    const [only] = destinationList;
    if (destinationList.length !== 1 || !only) return undefined;
    const mine =
      (only.type === 'node' && bytesEqual(only.id, this.o.nodeId)) ||
      (only.type === 'resource' && this.o.topology.isResponsible(only.id));
    if (!mine) return undefined;
    if (!this.loopback || this.loopback.closed) {
      const own = this.o.signer.certificates[0]?.certificate;
      if (!own) return undefined;
      this.loopback = new LoopbackLink(this.o.policy.validate(own), this.o.maxMessageSize, this.o.clock);
      this.loopback.onMessage((bytes) => this.receive(bytes, this.loopback as Link));
    }
    return this.loopback;
  }

  private route(first: Destination): Link | undefined {
    if (first.type === 'node') {
      const direct = this.links.get(toHex(first.id));
      if (direct && !direct.closed) return direct;
    }
    if (first.type !== 'node' && first.type !== 'resource') return undefined;
    const hop = this.o.topology.nextHop(first.id);
    const link = hop ? this.links.get(toHex(hop)) : undefined;
    return link && !link.closed ? link : undefined;
  }

  private sendOn(link: Link, bytes: Uint8Array): void {
    const pieces = bytes.length > link.maxMessageSize ? fragmentMessage(bytes, link.maxMessageSize, this.ctx) : [bytes];
    for (const piece of pieces) {
      this.counters.messagesOut++;
      link
        .send(piece)
        .catch((error: unknown) =>
          this.drop(error instanceof LinkCongestedError ? 'link-congested' : 'link-send', (error as Error).message),
        );
    }
  }

  private drop(reason: string, detail?: string): void {
    this.counters.dropped[reason] = (this.counters.dropped[reason] ?? 0) + 1;
    this.o.log.debug('message dropped', { reason, ...(detail ? { detail } : {}) });
  }

  private pruneAnswered(): void {
    const now = this.o.clock.now();
    for (const [id, entry] of this.answered) {
      if (entry.expires > now && this.answered.size < 10_000) break;
      this.answered.delete(id);
    }
  }
}

function errorBody(errorCode: number, info: string): Body {
  return { method: 'error', value: { errorCode, errorInfo: new TextEncoder().encode(info) } };
}

/** message_code sits right after the header; a fragment other than the first cannot tell. */
function peekCode(bytes: Uint8Array, headerLength: number, h: ForwardingHeader): number {
  if ((h.fragment & 0x00ffffff) !== 0 || bytes.length < headerLength + 2) return 0;
  return ((bytes[headerLength] as number) << 8) | (bytes[headerLength + 1] as number);
}

function describe(d: Destination | undefined): string {
  if (!d) return 'nothing';
  if (d.type === 'compressed') return `opaque:${d.id}`;
  if (d.type === 'unknown') return `type${d.code}:${toHex(d.data)}`;
  return `${d.type}:${toHex(d.id)}`;
}

/** Serial-number comparison of configuration sequences (RFC 1982 style, 16 bits). */
function serialLess(a: number, b: number): boolean {
  return a !== b && ((b - a + 0x10000) & 0xffff) < 0x8000;
}
