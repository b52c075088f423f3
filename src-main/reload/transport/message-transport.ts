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
  type MessageExtension,
} from '../wire';
import { ErrorResponseError, NoRouteError, RequestTimeoutError } from './errors';
import type { Topology } from './topology';
import { LoopbackLink } from './loopback-link';
import type { CertificateCompletion } from './certificate-completion';
import { isWildcardNodeId, nextHop, routeReceived, type RoutingView } from './destination-routing';

/** Forwarding option types this implementation understands (none yet beyond the base protocol). */
const KNOWN_OPTIONS: ReadonlySet<number> = new Set();
const MAX_REQUEST_LIFETIME_MS = 15_000;
const TRANSMISSIONS = 5;
/**
 * Which certificates a security block carries (RFC 6940 §6.3.4; reload-wire digest §10.4: every certificate the
 * receiver needs, except root-certs, unless another distribution mechanism gives it to the receiver).
 * The only other mechanism we count on is the (D)TLS handshake of the link the message travels: a message of
 * one of these methods whose destination is the peer at the other end of that link (a single hop between
 * direct neighbours: a request for its Node-ID, or the wildcard, sent over its link; the answer to a request
 * that came straight from its originator, sent back over the same link) leaves our certificate out. Every
 * other message carries it: routed ones, answers going back over several hops, and messages whose objects'
 * signers are looked up in the block (Store, Fetch answers and the like, which also carry those signers').
 * CERTIFICATE_BY_NODE and remembered certificates (certificate-completion.ts) are a fallback for other
 * implementations' messages, never a reason to leave ours out. Our signer holds no chain: the trust policy
 * accepts only certificates issued directly by a root-cert, which every node has from the configuration.
 */
const BARE_METHODS: ReadonlySet<string> = new Set([
  'ping_req',
  'ping_ans',
  'update_req',
  'update_ans',
  'probe_req',
  'probe_ans',
  'route_query_req',
  'route_query_ans',
  'leave_req',
  'leave_ans',
]);

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
  /**
   * Finds signer certificates a message does not carry (RFC 6940 §6.3.4): the link's, remembered ones, and
   * the overlay's certificate usage. Without it, such messages are dropped and every message carries ours.
   */
  certificates?: CertificateCompletion;
  /** A node's configuration sequence differs from ours (RFC 6940 §6.3.2.1): the node layer sends ConfigUpdates. */
  onConfigMismatch?: (mismatch: ConfigMismatch) => void;
}

/**
 * Who holds the older configuration: 'peer' for a requester we answered Error_Config_Too_Old or a destination
 * that answered Error_Config_Too_New; 'us' for the reverse. `sequence` is the one in that node's header;
 * `route` leads back to it (the request's path reversed, or its Node-ID).
 */
export interface ConfigMismatch {
  stale: 'peer' | 'us';
  nodeId: Uint8Array;
  sequence: number;
  route: Destination[];
}

export interface IncomingRequest {
  message: DecodedMessage;
  body: Body;
  /** Whoever signed the request, per its verified certificate. */
  from: ValidatedIdentity;
  link: Link;
  /** Certificates the answer's security block must carry besides ours (e.g. stored values' signers). */
  responseCertificates: Uint8Array[];
  /** Message extensions to put in the answer (e.g. RFC 7363 SelfTuningData in a ProbeAns). */
  responseExtensions?: MessageExtension[];
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
  /**
   * Leave our certificate out although the destination is not a linked peer (it has it from earlier messages
   * or can fetch it from CERTIFICATE_BY_NODE, §6.3.4).
   */
  omitOwnCertificate?: boolean;
  /** Message extensions to carry (e.g. RFC 7363 SelfTuningData in a ProbeReq). */
  extensions?: readonly MessageExtension[];
  /** The header's configuration_sequence instead of ours (a ConfigUpdate sends 0xffff, accepted everywhere). */
  configurationSequence?: number;
}

export interface Answer {
  message: DecodedMessage;
  body: Body;
  /** Who signed the answer, per its verified certificate. */
  from: ValidatedIdentity;
}

/** What a handler answered, kept to answer retransmissions equivalently (RFC 6940 §6.2.1). */
interface AnswerContent {
  body: Body;
  certificates: readonly Uint8Array[];
  extensions: readonly MessageExtension[];
}

interface CachedAnswer {
  /** The path the request came along (pathOf): the bytes below are addressed and certified for it. */
  path: string;
  bytes: Uint8Array;
  answer: AnswerContent;
  expires: number;
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
  private readonly answered = new Map<bigint, CachedAnswer>();
  private readonly reassembler: Reassembler;
  /** Our signer without its certificates, for messages that go bare (BARE_METHODS). */
  private readonly bareSigner: Signer;
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

  private readonly routingView: RoutingView;

  constructor(private readonly o: TransportOptions) {
    this.routingView = { self: o.nodeId, topology: o.topology, linked: (id) => !!this.linkTo(id) };
    this.ctx = decodeContext({
      maxMessageSize: o.maxMessageSize,
      nodeIdLength: o.nodeIdLength,
      ...(o.dataModelOf ? { dataModelOf: o.dataModelOf } : {}),
    });
    this.reassembler = new Reassembler(this.ctx, { timeoutMs: MAX_REQUEST_LIFETIME_MS });
    const signer = o.signer;
    this.bareSigner = {
      algorithm: signer.algorithm,
      identity: signer.identity,
      certificates: [],
      sign: (input) => signer.sign(input),
    };
  }

  /** Where signer certificates missing from messages come from (undefined: they are required). */
  get certificateCompletion(): CertificateCompletion | undefined {
    return this.o.certificates;
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

  /** Our configuration sequence; an accepted ConfigUpdate sets it. */
  get configSequence(): number {
    return this.o.configSequence;
  }

  set configSequence(sequence: number) {
    this.o.configSequence = sequence;
  }

  handle(handler: (request: IncomingRequest) => Promise<Body> | Body): void {
    this.handler = handler;
  }

  /** Sends a request and resolves with the (verified) response; retransmits with the same transaction id. */
  request(destinationList: Destination[], body: Body, options: RequestOptions = {}): Promise<Answer> {
    const transactionId = randomBytes(8).readBigUInt64BE(0);
    const header: HeaderInput = {
      overlay: this.o.overlay,
      configurationSequence: options.configurationSequence ?? this.o.configSequence,
      version: 0x0a,
      ttl: this.o.initialTtl,
      transactionId,
      maxResponseLength: options.maxResponseLength ?? 0,
      viaList: [],
      destinationList,
      options: [],
    };
    const [only] = destinationList;
    // Our certificate stays out only of a message for the peer at the other end of the link it leaves on (that
    // peer saw it in the (D)TLS handshake; see BARE_METHODS). Decided per transmission: a retransmission may
    // have to take a longer way.
    const mayGoBare =
      this.o.certificates !== undefined &&
      BARE_METHODS.has(body.method) &&
      !options.certificates?.length &&
      destinationList.length === 1 &&
      only?.type === 'node';
    const forPeerOf = (link: Link) =>
      only?.type === 'node' &&
      !(link instanceof LoopbackLink) &&
      (link.peer.nodeIds.some((id) => bytesEqual(id, only.id)) || (isWildcardNodeId(only.id) && link === options.via));
    const encoded = new Map<boolean, Uint8Array>();
    const bytesFor = (link: Link): Uint8Array => {
      const bare = options.omitOwnCertificate === true || (mayGoBare && forPeerOf(link));
      let bytes = encoded.get(bare);
      if (!bytes) {
        bytes = signMessage(
          header,
          { body, extensions: [...(options.extensions ?? [])] },
          bare ? this.bareSigner : this.o.signer,
          { nodeIdLength: this.o.nodeIdLength },
          options.certificates,
        );
        encoded.set(bare, bytes);
      }
      return bytes;
    };
    const first = destinationList[0] as Destination;
    // A request sent `via` a link (bootstrap, partition checks) goes over it whatever our table says: the
    // question is what the overlay behind that link answers.
    const link = options.via ?? this.local(destinationList) ?? this.route(first);
    if (!link) return Promise.reject(new NoRouteError(`no route towards ${describe(first)}`));
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
        // Retransmissions take today's route: the first may have gone to a peer that has failed since.
        const current =
          options.via ?? this.local(destinationList) ?? this.route(destinationList[0] as Destination) ?? link;
        this.sendOn(current, bytesFor(current));
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
    const decision = routeReceived(h.destinationList, this.visited(h, from), this.routingView);
    if (decision.action === 'deliver') return this.deliver(bytes, h, from);
    if (decision.action === 'drop') return this.drop(decision.reason);
    if (!request() && this.responseLoops(h, from, decision.to, decision.destinations))
      return this.drop('response-loop');
    return this.forward(bytes, view, decision.to, decision.destinations, from);
  }

  /**
   * A response retraces its request's path, so it never needs to reach a node it has already been at (its
   * via list, the peer it came from) — except its final destination: a request may pass its originator once
   * more (see visited()), and the answer then comes back through it. Without this, one forged response with
   * the destination list [A, B, A, B, …] bounced between two honest peers until its TTL ran out (duplicate
   * entries cannot be refused in responses, for that same reason).
   */
  private responseLoops(h: ForwardingHeader, from: Link, to: Uint8Array, rest: readonly Destination[]): boolean {
    const last = rest.at(-1);
    if (rest.length === 1 && last?.type === 'node' && bytesEqual(last.id, to)) return false;
    const been = [...h.viaList.flatMap((d) => (d.type === 'node' ? [d.id] : [])), ...from.peer.nodeIds];
    return been.some((id) => bytesEqual(id, to));
  }

  /**
   * The nodes a received message has been at (its via list, the peer it came from), its originator left out:
   * a request sent through a first hop of its originator's choosing comes back through the originator when
   * that hop's route runs there (a partition check asks a bootstrap node to route to our successor).
   */
  private visited(h: ForwardingHeader, from: Link): Uint8Array[] {
    const via = h.viaList.flatMap((d) => (d.type === 'node' ? [d.id] : []));
    return via.length === 0 ? [] : [...via.slice(1), ...from.peer.nodeIds];
  }

  private forward(
    bytes: Uint8Array,
    view: { header: ForwardingHeader; headerLength: number },
    to: Uint8Array,
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
    const next = this.linkTo(to);
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
    const signer = this.verify(message, from);
    if (signer === 'incomplete') return void this.complete(message, from);
    if (!signer) return this.drop('signature');
    this.accept(message, signer, from);
  }

  private accept(message: DecodedMessage, signer: ValidatedIdentity, from: Link): void {
    this.counters.delivered++;
    if (isRequestCode(message.contents.code)) void this.serve(message, signer, from);
    else this.settle(message, signer);
  }

  /** The originator of a received message: the first via entry, or the peer of the link it came over. */
  private originatorOf(message: DecodedMessage, from: Link): Uint8Array | undefined {
    const first = message.header.viaList[0];
    if (first) return first.type === 'node' ? first.id : undefined;
    return from.peer.nodeIds[0];
  }

  /** The signer's certificate was in no security block or memory: ask the overlay, then verify. */
  private async complete(message: DecodedMessage, from: Link): Promise<void> {
    const originator = this.originatorOf(message, from);
    const found = originator && (await this.o.certificates?.fetch(message.security.signature.identity, originator));
    const signer = found ? this.check(message, found, originator) : undefined;
    if (!signer) return this.drop('signature', 'the signer certificate is not in the message nor in the overlay');
    this.accept(message, signer, from);
  }

  /** Verifies the message signature and the signer's certificate; undefined when either fails. */
  private verify(message: DecodedMessage, from: Link): ValidatedIdentity | 'incomplete' | undefined {
    const nodeIdsOf = (der: Uint8Array) => {
      try {
        return readCertificate(der, this.o.policy.settings.overlay, this.o.nodeIdLength).nodeIds;
      } catch {
        return [];
      }
    };
    const identity = message.security.signature.identity;
    const found = findSignerCertificate(identity, message.security.certificates, nodeIdsOf);
    if (found) return this.check(message, found.certificate);
    // Not in the security block (§6.3.4): the link's certificate when it came straight from its signer, or one
    // we remember; else the overlay is asked (asynchronously).
    const completion = this.o.certificates;
    const originator = this.originatorOf(message, from);
    if (!completion || !originator) return undefined;
    const direct = message.header.viaList.length === 0 ? from.peer.certificate.der : undefined;
    const known = completion.find(identity, originator, direct);
    if (known) return this.check(message, known);
    return completion.canFetch ? 'incomplete' : undefined;
  }

  /** The certificate passes the trust policy and its key verifies the message; remembered for completion. */
  private check(
    message: DecodedMessage,
    certificate: Uint8Array,
    originator?: Uint8Array,
  ): ValidatedIdentity | undefined {
    try {
      const identity = this.o.policy.validate(certificate);
      if (!verifyMessage(message, identity.certificate.publicKey)) return undefined;
      if (this.o.certificates)
        for (const id of identity.nodeIds)
          if (!originator || bytesEqual(id, originator)) this.o.certificates.remember(id, certificate);
      return identity;
    } catch {
      return undefined;
    }
  }

  private async serve(message: DecodedMessage, signer: ValidatedIdentity, from: Link): Promise<void> {
    const h = message.header;
    const cached = this.answered.get(h.transactionId);
    if (cached && cached.expires > this.o.clock.now()) {
      // A retransmission that came another way (a hop failed meanwhile) gets the same answer, addressed back
      // along its own path and carrying the certificates that path needs.
      this.sendOn(
        from,
        cached.path === pathOf(h, from) ? cached.bytes : this.answerBytes(h, from, cached.answer, signer),
      );
      return;
    }
    let reply: Body;
    const responseCertificates: Uint8Array[] = [];
    const responseExtensions: MessageExtension[] = [];
    if (
      h.configurationSequence !== this.o.configSequence &&
      !(message.contents.code === MessageCode.config_update_req && h.configurationSequence === 0xffff)
    ) {
      const older = serialLess(h.configurationSequence, this.o.configSequence);
      const route: Destination[] = [
        { type: 'node', id: from.peer.nodeIds[0] as Uint8Array },
        ...[...h.viaList].reverse(),
      ];
      const nodeId = signer.nodeIds[0] as Uint8Array;
      this.o.onConfigMismatch?.({ stale: older ? 'peer' : 'us', nodeId, sequence: h.configurationSequence, route });
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
        reply = await this.handler({
          message,
          body,
          from: signer,
          link: from,
          responseCertificates,
          responseExtensions,
        });
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
    const answer: AnswerContent = {
      body: reply,
      certificates: responseCertificates,
      extensions: reply.method === 'error' ? [] : responseExtensions,
    };
    const bytes = this.answerBytes(h, from, answer, signer);
    this.answered.set(h.transactionId, {
      path: pathOf(h, from),
      bytes,
      answer,
      expires: this.o.clock.now() + MAX_REQUEST_LIFETIME_MS,
    });
    this.pruneAnswered();
    this.sendOn(from, bytes);
  }

  /** The answer's bytes for this path; Error_Response_Too_Large when they exceed the request's limit. */
  private answerBytes(
    h: ForwardingHeader,
    from: Link,
    answer: AnswerContent,
    requester: ValidatedIdentity,
  ): Uint8Array {
    const bytes = this.responseBytes(h, from, answer.body, answer.certificates, answer.extensions, requester);
    if (h.maxResponseLength === 0 || bytes.length <= h.maxResponseLength) return bytes;
    return this.responseBytes(
      h,
      from,
      errorBody(ErrorCode.Response_Too_Large, `response of ${bytes.length} bytes exceeds ${h.maxResponseLength}`),
      [],
      [],
      requester,
    );
  }

  private settle(message: DecodedMessage, signer: ValidatedIdentity): void {
    const pending = this.pending.get(message.header.transactionId);
    if (!pending) return this.drop('unexpected-response');
    // A response to a request for a Node-ID must come from that node, unless it went to the wildcard (§6.3.4).
    const target = pending.destination;
    if (
      target.type === 'node' &&
      !isWildcardNodeId(target.id) &&
      !signer.nodeIds.some((id) => bytesEqual(id, target.id))
    ) {
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
    const code = body.method === 'error' ? body.value.errorCode : 0;
    if (code === ErrorCode.Config_Too_Old || code === ErrorCode.Config_Too_New) {
      const nodeId = signer.nodeIds[0] as Uint8Array;
      const stale = code === ErrorCode.Config_Too_Old ? 'us' : 'peer';
      const route: Destination[] = [{ type: 'node', id: nodeId }];
      this.o.onConfigMismatch?.({ stale, nodeId, sequence: message.header.configurationSequence, route });
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
    extensions: readonly MessageExtension[] = [],
    /** Who signed the request (verified); undefined for requests answered before verification. */
    requester?: ValidatedIdentity,
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
    // Straight back over the link the request came on, to the peer that signed it: it saw our certificate in
    // that link's handshake (BARE_METHODS). An empty via list alone does not show that the link's peer
    // originated the request: a forwarder may keep per-transaction state instead of via entries (§6.1.2).
    const bare =
      this.o.certificates !== undefined &&
      BARE_METHODS.has(body.method) &&
      certificates.length === 0 &&
      request.viaList.length === 0 &&
      !(from instanceof LoopbackLink) &&
      requester !== undefined &&
      bytesEqual(requester.certificate.der, from.peer.certificate.der);
    return signMessage(
      header,
      { body, extensions: [...extensions] },
      bare ? this.bareSigner : this.o.signer,
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
    // We are responsible for the wildcard too (§6.1.1); sent to a neighbour it goes `via` its link.
    const mine =
      (only.type === 'node' && (bytesEqual(only.id, this.o.nodeId) || isWildcardNodeId(only.id))) ||
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
    const hop = nextHop(first.id, [], this.routingView);
    return hop && hop !== 'loop' ? this.linkTo(hop) : undefined;
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

/** A request's path to us: its via list and the peer it came from. */
function pathOf(h: ForwardingHeader, from: Link): string {
  return [...h.viaList.map(describe), ...from.peer.nodeIds.map(toHex)].join(' ');
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
