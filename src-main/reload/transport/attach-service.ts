/**
 * The Attach method (RFC 6940 §6.5.1) around one AttachStrategy (ICE or No-ICE, as the overlay says):
 * sending Attach requests and answering them, one attempt per peer at a time, glare settled by Node-ID,
 * and every resulting link handed to the connection table. The strategy builds the links.
 *
 * Answering (§6.5.1.2): with no Attach of ours towards the requester we answer and start connecting. With
 * one of ours already answered (connecting), we answer Error_In_Progress. With one of ours still unanswered
 * (glare), the larger Node-ID answers Error_In_Progress and keeps its own attempt; the smaller answers,
 * and its own attempt yields: it resolves with the link the peer's Attach builds.
 */
import type { Clock } from '../clock';
import type { Link } from '../link/link';
import { bytesEqual, ErrorCode, toHex, type Body, type Destination } from '../wire';
import type { AttachStrategy } from './attach-strategy';
import { AttachAnswerError, AttachTimeoutError, ErrorResponseError } from './errors';
import { ErrorAnswer, type IncomingRequest, type MessageTransport } from './message-transport';
import type { RequestRouter } from './request-router';

export interface AttachedEvent {
  link: Link;
  /** 'requester' if we sent the Attach, 'answerer' if we answered it. */
  role: 'requester' | 'answerer';
  /**
   * The requester set send_update: once the link is up the answerer MUST send it an Update (§6.5.1.2).
   * The topology (CHORD-RELOAD) does so.
   */
  updateRequested: boolean;
}

export interface AttachServiceOptions {
  transport: MessageTransport;
  router: RequestRouter;
  nodeId: Uint8Array;
  strategy: AttachStrategy;
  clock: Clock;
  /**
   * After losing glare (our request answered Error_In_Progress by the larger Node-ID), how long to wait
   * for the peer's own Attach to reach us (default 10 s).
   */
  glareWaitMs?: number;
  /** Where new links go (a LinkTable's `add`); by default straight into the transport. */
  accept?: (link: Link) => void;
  /** Each link an Attach produced, on either side. */
  onAttached?: (event: AttachedEvent) => void;
  /** An answered Attach that produced no link (the requester is told nothing more; this is for logs). */
  onAnswerFailed?: (requester: Uint8Array, error: Error) => void;
}

export interface AttachOptions {
  /** Ask the answerer for an Update once the link is up (a joining node does). */
  sendUpdate?: boolean;
  /** Send the Attach over this link whatever the topology says (bootstrap: §11.4). */
  via?: Link;
  /**
   * Source-route the Attach through these nodes first (CHORD-RELOAD: Attaches to new neighbours go through
   * the peer that reported them, §10.5).
   */
  through?: Uint8Array[];
}

/** The link the peer's Attach is building, as a promise inside a box. */
interface Yielded {
  link: Promise<Link>;
}

interface Attempt {
  state: 'unanswered' | 'connecting';
  /** Glare lost: our attempt takes the link the peer's Attach builds. */
  yieldTo(link: Promise<Link>): void;
}

export class AttachService {
  /** Our Attach attempts towards Node-IDs, with the link each will give. */
  private readonly attempts = new Map<string, { attempt: Attempt; link: Promise<Link> }>();
  private readonly accepted = new WeakSet<Link>();

  constructor(private readonly o: AttachServiceOptions) {
    o.router.on('attach_req', (request) => this.answer(request));
    o.strategy.onUnsolicited((link) => this.accept(link));
  }

  /** Attaches to a Node-ID (or to whichever node is responsible for a Resource-ID); resolves with the link. */
  attach(destination: Destination, options: AttachOptions = {}): Promise<Link> {
    if (destination.type !== 'node') return this.run(destination, options, undefined);
    const existing = this.o.transport.linkTo(destination.id);
    if (existing) return Promise.resolve(existing);
    const key = toHex(destination.id);
    const running = this.attempts.get(key);
    if (running) return running.link;
    // Boxed, so that the promise of the peer's link is passed along, not adopted: if that link fails after our
    // own request has won, nobody is left to see its rejection.
    let yielded: (box: Yielded) => void = () => undefined;
    const yieldPromise = new Promise<Yielded>((resolve) => (yielded = resolve));
    const attempt: Attempt = {
      state: 'unanswered',
      yieldTo: (link) => {
        link.catch(() => undefined);
        yielded({ link });
      },
    };
    const entry = {
      attempt,
      link: this.run(destination, options, { attempt, yielded: yieldPromise }).finally(() => {
        if (this.attempts.get(key) === entry) this.attempts.delete(key);
      }),
    };
    this.attempts.set(key, entry);
    return entry.link;
  }

  private async run(
    destination: Destination,
    options: AttachOptions,
    glare: { attempt: Attempt; yielded: Promise<Yielded> } | undefined,
  ): Promise<Link> {
    const offer = await this.o.strategy.offer(options.sendUpdate ?? false);
    const request = this.o.transport.request(
      [...(options.through ?? []).map((id): Destination => ({ type: 'node', id })), destination],
      { method: 'attach_req', value: offer.request },
      options.via ? { via: options.via } : {},
    );
    request.catch(() => undefined);
    const outcome = await Promise.race([
      request.then((answer) => ({ answer }) as const),
      ...(glare ? [glare.yielded] : []),
    ]).catch(async (error: unknown) => {
      offer.cancel();
      // The larger Node-ID answered Error_In_Progress: its own Attach is on its way to us, and we yield to it.
      if (glare && error instanceof ErrorResponseError && error.errorCode === ErrorCode.In_Progress)
        return this.within(glare.yielded, error);
      throw error;
    });
    if ('link' in outcome) {
      // The peer's Attach won the glare; its retransmissions of ours will be answered Error_In_Progress.
      offer.cancel();
      return outcome.link;
    }
    const { answer } = outcome;
    const signer = answer.from.nodeIds[0] as Uint8Array;
    if (answer.body.method !== 'attach_ans') {
      offer.cancel();
      throw new AttachAnswerError(`expected an attach_ans, got ${answer.body.method}`);
    }
    if (destination.type === 'node' && !answer.from.nodeIds.some((id) => bytesEqual(id, destination.id))) {
      offer.cancel();
      throw new AttachAnswerError('the Attach answer was signed by another node than the one attached to');
    }
    if (glare) glare.attempt.state = 'connecting';
    const link = await offer.complete(answer.body.value, destination.type === 'node' ? destination.id : signer);
    this.accept(link);
    this.o.onAttached?.({ link, role: 'requester', updateRequested: false });
    return link;
  }

  private async answer(request: IncomingRequest): Promise<Body> {
    if (request.body.method !== 'attach_req') throw new ErrorAnswer(ErrorCode.Invalid_Message, 'not an Attach');
    const requester = request.from.nodeIds[0] as Uint8Array;
    const mine = this.attempts.get(toHex(requester))?.attempt;
    if (mine?.state === 'connecting')
      throw new ErrorAnswer(ErrorCode.In_Progress, 'our own Attach to you is connecting');
    if (mine && Buffer.compare(Buffer.from(this.o.nodeId), Buffer.from(requester)) > 0)
      throw new ErrorAnswer(ErrorCode.In_Progress, 'glare: the larger Node-ID keeps its own Attach');
    const updateRequested = request.body.value.sendUpdate;
    const { answer, link } = await this.o.strategy.answer(request.body.value, requester);
    mine?.yieldTo(link);
    link.then(
      (l) => {
        this.accept(l);
        this.o.onAttached?.({ link: l, role: 'answerer', updateRequested });
      },
      (error: Error) => this.o.onAnswerFailed?.(requester, error),
    );
    return { method: 'attach_ans', value: answer };
  }

  private within(yielded: Promise<Yielded>, cause: ErrorResponseError): Promise<Yielded> {
    return new Promise((resolve, reject) => {
      const timer = this.o.clock.setTimeout(
        () => reject(new AttachTimeoutError(`the peer's own Attach never came after ${cause.message}`)),
        this.o.glareWaitMs ?? 10_000,
      );
      void yielded.then((box) => {
        timer.cancel();
        resolve(box);
      });
    });
  }

  private accept(link: Link): void {
    if (this.accepted.has(link) || link.closed) return;
    this.accepted.add(link);
    if (this.o.accept) this.o.accept(link);
    else this.o.transport.addLink(link);
  }
}
