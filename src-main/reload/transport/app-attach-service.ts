/**
 * The AppAttach method (RFC 6940 §6.5.2) around one AppAttachStrategy: a dedicated, mutually authenticated
 * DTLS or TLS flow to another node for an application (e.g. SIP, Application-ID 5060), never a RELOAD link.
 *
 * Requesting: the AppAttachReq is routed like any request, to a Node-ID or to whoever is responsible for a
 * Resource-ID. The answer must be an app_attach_ans for the same Application-ID, role "active", signed by the
 * destination Node-ID when one was named; the flow's certificate must carry the Node-ID that signed it.
 * Error_Not_Found from the destination becomes AppAttachNotSupportedError.
 *
 * Answering: an Application-ID nobody registered (onAppAttach) is answered Error_Not_Found, as §6.5.2
 * requires; a request whose role is not "passive" Error_Invalid_Message. Otherwise we answer at once and the
 * strategy builds the flow; once it is up, and its certificate carries the requester's Node-ID, the
 * Application-ID's handler gets it.
 *
 * There is no glare and no "in progress" here (unlike Attach): any number of flows may exist between two
 * nodes. Keepalive and closing are the application's (see AppConnection).
 */
import type { Logger } from '../../common/logger';
import type { Clock } from '../clock';
import { PeerRejectedError } from '../link/link';
import { bytesEqual, ErrorCode, toHex, type AppAttachReqAns, type Body, type Destination } from '../wire';
import {
  AppAttachAnswerError,
  AppAttachArgumentError,
  AppAttachNotSupportedError,
  AppAttachTimeoutError,
  AppAttachUnavailableError,
} from './app-attach-errors';
import { APP_ROLE_ANSWERER, APP_ROLE_REQUESTER, type AppAttachStrategy } from './app-attach-strategy';
import type { AppConnection } from './app-connection';
import { ErrorResponseError } from './errors';
import { ErrorAnswer, type Answer, type IncomingRequest, type MessageTransport } from './message-transport';
import type { RequestRouter } from './request-router';

export interface AppAttachServiceOptions {
  transport: MessageTransport;
  router: RequestRouter;
  nodeId: Uint8Array;
  nodeIdLength: number;
  /** How flows are built; without one, appAttach fails and every AppAttachReq is answered Error_Not_Found. */
  strategy?: AppAttachStrategy;
  clock: Clock;
  log?: Logger;
  /** How long a flow may take to come up once the answer is in (default 30 s). */
  connectTimeoutMs?: number;
  /** An answered AppAttach that produced no connection for a handler (for logs and tests). */
  onAnswerFailed?: (event: { requester: Uint8Array; applicationId: number; error: Error }) => void;
}

export interface AppAttachOptions {
  /** How long the flow may take to come up once the answer is in (default: the service's, 30 s). */
  connectTimeoutMs?: number;
}

export type AppAttachHandler = (connection: AppConnection) => void;

const ascii = new TextDecoder();

/** Application-IDs are uint16; 0 is INVALID and 65535 reserved (RFC 6940 §14.5). */
function checkApplicationId(applicationId: unknown): number {
  if (
    typeof applicationId !== 'number' ||
    !Number.isInteger(applicationId) ||
    applicationId < 1 ||
    applicationId > 65534
  )
    throw new AppAttachArgumentError(
      'applicationId',
      `must be an integer from 1 to 65534, not ${String(applicationId)}`,
    );
  return applicationId;
}

/** Entries of a destination list AppAttach takes (the last is the answerer; the others route to it). */
export const MAX_APP_ATTACH_ROUTE = 16;

export class AppAttachService {
  private readonly handlers = new Map<number, AppAttachHandler>();
  private closed = false;

  constructor(private readonly o: AppAttachServiceOptions) {
    o.router.on('app_attach_req', (request) => this.answer(request));
  }

  /** Is there a strategy to build flows with (and has the service not been closed)? */
  get available(): boolean {
    return this.o.strategy !== undefined && !this.closed;
  }

  /** The Application-IDs with a handler (those this node supports). */
  get applications(): number[] {
    return [...this.handlers.keys()];
  }

  /**
   * Opens a flow to a Node-ID, or to the node responsible for a Resource-ID, for an Application-ID.
   * Rejects with AppAttachArgumentError (bad input), AppAttachUnavailableError (no strategy),
   * AppAttachNotSupportedError (Error_Not_Found), ErrorResponseError (other errors), RequestTimeoutError or
   * NoRouteError (the request), AppAttachAnswerError (unusable answer), AppAttachTimeoutError (no flow in
   * time), PeerRejectedError (the flow's certificate is not the answerer's), IceFailedError or
   * LinkConnectError (the flow failed).
   */
  async appAttach(
    destinationOrList: Destination | readonly Destination[],
    applicationId: number,
    options: AppAttachOptions = {},
  ): Promise<AppConnection> {
    // A destination list (RFC 6940 §6.3.2.2) is source-routed: e.g. [peer P, client C] reaches a client
    // through the peer it is attached to. The node that must answer (and own the flow) is its last entry.
    const list = Array.isArray(destinationOrList)
      ? (destinationOrList as readonly Destination[])
      : [destinationOrList as Destination];
    if (list.length === 0 || list.length > MAX_APP_ATTACH_ROUTE)
      throw new AppAttachArgumentError('destination', `a destination list has 1 to ${MAX_APP_ATTACH_ROUTE} entries`);
    for (const via of list.slice(0, -1)) this.checkVia(via);
    const destination = list[list.length - 1] as Destination;
    this.checkDestination(destination);
    checkApplicationId(applicationId);
    const timeoutMs = options.connectTimeoutMs ?? this.o.connectTimeoutMs ?? 30_000;
    if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0)
      throw new AppAttachArgumentError('connectTimeoutMs', 'must be a positive number of milliseconds');
    const strategy = this.strategy();
    const offer = await strategy.offer(applicationId);
    let accepted: { value: AppAttachReqAns; peer: Uint8Array };
    try {
      const answer = await this.o.transport.request([...list], { method: 'app_attach_req', value: offer.request });
      accepted = this.checkAnswer(answer, destination, applicationId);
    } catch (error) {
      offer.cancel();
      if (error instanceof ErrorResponseError && error.errorCode === ErrorCode.Not_Found)
        throw new AppAttachNotSupportedError(applicationId, error);
      throw error;
    }
    const { value, peer } = accepted;
    const connection = await this.within(offer.complete(value, peer), timeoutMs, () => offer.cancel());
    return this.checked(connection, peer);
  }

  /**
   * Supports an Application-ID: every flow an AppAttach for it brings goes to `handler`. Returns the
   * function that withdraws the support (later AppAttachReqs for it are answered Error_Not_Found).
   */
  onAppAttach(applicationId: number, handler: AppAttachHandler): () => void {
    checkApplicationId(applicationId);
    if (typeof handler !== 'function') throw new AppAttachArgumentError('handler', 'must be a function');
    this.strategy();
    if (this.handlers.has(applicationId))
      throw new AppAttachArgumentError('applicationId', `Application-ID ${applicationId} already has a handler`);
    this.handlers.set(applicationId, handler);
    return () => {
      if (this.handlers.get(applicationId) === handler) this.handlers.delete(applicationId);
    };
  }

  /** Closes every flow the strategy made; later requests are answered Error_Not_Found. */
  async close(): Promise<void> {
    this.closed = true;
    await this.o.strategy?.close();
  }

  private strategy(): AppAttachStrategy {
    if (this.closed) throw new AppAttachUnavailableError('AppAttach is closed (the node stopped)');
    if (!this.o.strategy) throw new AppAttachUnavailableError('this node was built without an AppAttach strategy');
    return this.o.strategy;
  }

  private checkDestination(destination: Destination, isVia = false): void {
    if (
      typeof destination !== 'object' ||
      destination === null ||
      (destination.type !== 'node' && destination.type !== 'resource') ||
      !(destination.id instanceof Uint8Array)
    )
      throw new AppAttachArgumentError('destination', 'must be a Node-ID or a Resource-ID');
    if (destination.type === 'node' && destination.id.length !== this.o.nodeIdLength)
      throw new AppAttachArgumentError(
        'destination',
        `a Node-ID is ${this.o.nodeIdLength} bytes, not ${destination.id.length}`,
      );
    if (destination.type === 'resource' && (destination.id.length === 0 || destination.id.length > 255))
      throw new AppAttachArgumentError('destination', 'a Resource-ID is 1 to 255 bytes');
    if (!isVia && destination.type === 'node' && bytesEqual(destination.id, this.o.nodeId))
      throw new AppAttachArgumentError('destination', 'is this node itself');
  }

  /** An entry before the last of a destination list: any well-formed Destination the message layer routes. */
  private checkVia(via: Destination): void {
    if (typeof via !== 'object' || via === null)
      throw new AppAttachArgumentError('destination', 'a destination list entry must be a Destination');
    if (via.type === 'node' || via.type === 'resource') return this.checkDestination(via, true);
    if (via.type === 'opaque' && via.id instanceof Uint8Array && via.id.length > 0 && via.id.length <= 255) return;
    if (via.type === 'compressed' && Number.isInteger(via.id) && via.id >= 0x8000 && via.id <= 0xffff) return;
    throw new AppAttachArgumentError('destination', 'a destination list entry is malformed');
  }

  /** The Node-ID the flow's certificate must carry, once the answer has passed every check. */
  private checkAnswer(
    answer: Answer,
    destination: Destination,
    applicationId: number,
  ): { value: AppAttachReqAns; peer: Uint8Array } {
    if (answer.body.method !== 'app_attach_ans')
      throw new AppAttachAnswerError('body', `expected an app_attach_ans, got ${answer.body.method}`);
    const value = answer.body.value;
    if (destination.type === 'node' && !answer.from.nodeIds.some((id) => bytesEqual(id, destination.id)))
      throw new AppAttachAnswerError('signer', 'the AppAttach answer was signed by another node than the destination');
    if (value.application !== applicationId)
      throw new AppAttachAnswerError(
        'application',
        `the answer is for Application-ID ${value.application}, the request for ${applicationId}`,
      );
    const role = ascii.decode(value.role);
    if (role !== APP_ROLE_ANSWERER)
      throw new AppAttachAnswerError('role', `the answerer must say "${APP_ROLE_ANSWERER}", not "${role}"`);
    const signer = answer.from.nodeIds[0];
    if (!signer) throw new AppAttachAnswerError('signer', 'the answer carries no Node-ID');
    return { value, peer: destination.type === 'node' ? destination.id : signer };
  }

  private async answer(request: IncomingRequest): Promise<Body> {
    if (request.body.method !== 'app_attach_req') throw new ErrorAnswer(ErrorCode.Invalid_Message, 'not an AppAttach');
    const value = request.body.value;
    const applicationId = value.application;
    const strategy = this.o.strategy;
    if (!strategy || this.closed || !this.handlers.has(applicationId))
      throw new ErrorAnswer(ErrorCode.Not_Found, `Application-ID ${applicationId} is not supported here`);
    const role = ascii.decode(value.role);
    if (role !== APP_ROLE_REQUESTER)
      throw new ErrorAnswer(
        ErrorCode.Invalid_Message,
        `role: an AppAttach request must say "${APP_ROLE_REQUESTER}" (its sender is the (D)TLS server), not "${role}"`,
      );
    const requester = request.from.nodeIds[0];
    if (!requester) throw new ErrorAnswer(ErrorCode.Forbidden, 'the request carries no Node-ID');
    const { answer, connection } = await strategy.answer(value, requester);
    const timeoutMs = this.o.connectTimeoutMs ?? 30_000;
    this.within(connection, timeoutMs, () => undefined).then(
      (c) => this.hand(c, requester, applicationId),
      (error: Error) => this.answerFailed(requester, applicationId, error),
    );
    return { method: 'app_attach_ans', value: answer };
  }

  /** Gives an answered flow to its handler, if the peer is right and the handler still there. */
  private hand(connection: AppConnection, requester: Uint8Array, applicationId: number): void {
    let checked: AppConnection;
    try {
      checked = this.checked(connection, requester);
    } catch (error) {
      return this.answerFailed(requester, applicationId, error as Error);
    }
    const handler = this.handlers.get(applicationId);
    if (!handler || this.closed) {
      void checked.close();
      return this.answerFailed(requester, applicationId, new AppAttachUnavailableError('the handler was withdrawn'));
    }
    try {
      handler(checked);
    } catch (error) {
      void checked.close();
      this.answerFailed(requester, applicationId, error as Error);
    }
  }

  /** Both sides MUST check that the flow's certificate carries the Node-ID of the exchange (§6.5.1/§6.5.2). */
  private checked(connection: AppConnection, nodeId: Uint8Array): AppConnection {
    if (connection.peer.nodeIds.some((id) => bytesEqual(id, nodeId))) return connection;
    void connection.close();
    throw new PeerRejectedError(`the flow's certificate does not carry ${toHex(nodeId)}, the AppAttach peer`);
  }

  private answerFailed(requester: Uint8Array, applicationId: number, error: Error): void {
    this.o.log?.warn('an answered AppAttach produced no flow', {
      requester: toHex(requester),
      applicationId,
      error: error.message,
    });
    this.o.onAnswerFailed?.({ requester, applicationId, error });
  }

  /** The flow, or AppAttachTimeoutError after `ms` (a flow that comes later is closed). */
  private within(flow: Promise<AppConnection>, ms: number, onTimeout: () => void): Promise<AppConnection> {
    return new Promise((resolve, reject) => {
      let expired = false;
      const timer = this.o.clock.setTimeout(() => {
        expired = true;
        onTimeout();
        reject(new AppAttachTimeoutError('connection', `no application flow within ${ms} ms of the AppAttach answer`));
      }, ms);
      flow.then(
        (connection) => {
          if (expired) return void connection.close();
          timer.cancel();
          resolve(connection);
        },
        (error: unknown) => {
          if (expired) return;
          timer.cancel();
          onTimeout();
          reject(error instanceof Error ? error : new Error(String(error)));
        },
      );
    });
  }
}
