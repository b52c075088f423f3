/**
 * How an AppAttach becomes an application flow (RFC 6940 §6.5.2): the same split as Attach's
 * AttachStrategy. The AppAttachService runs the method (routing, Application-IDs, Error_Not_Found, checks
 * of the answer); the strategy fills in the AppAttachReqAns and builds the AppConnection. An overlay's
 * strategy follows its `no-ice` setting: ICE with DTLS over the selected pair (IceDtlsAppAttach), or No-ICE
 * with TLS over TCP (NoIceAppAttach over TlsAppFlows), or the in-memory network of simulations
 * (NoIceAppAttach over MemoryAppFlows).
 *
 * Roles are Attach's (docs/decisions.md): the requester offers role "passive", is the controlling ICE
 * agent and the (D)TLS server, and asks for the client's certificate; the answerer says "active" and is the
 * client. Both sides require the certificate on the flow to carry the Node-ID of the AppAttach exchange.
 */
import type { AppAttachReqAns } from '../wire';
import type { AppConnection } from './app-connection';

/** What a flow is for and with whom: fixed by the AppAttach exchange before the flow exists. */
export interface AppFlowInfo {
  applicationId: number;
  /** 'requester': we sent the AppAttach; 'answerer': we answered it. */
  role: 'requester' | 'answerer';
  /** The Node-ID that signed the other side of the exchange: the flow's certificate must carry it. */
  peerNodeId: Uint8Array;
}

/** One AppAttach request of ours, before its answer. */
export interface AppAttachOffer {
  /** The AppAttachReqAns our request carries. */
  readonly request: AppAttachReqAns;
  /**
   * Builds the flow from the answer. `peer` is the Node-ID that signed the answer: the flow's certificate
   * must carry it.
   */
  complete(answer: AppAttachReqAns, peer: Uint8Array): Promise<AppConnection>;
  /** The request failed or was given up: release what the offer holds (agents, listeners, waits). */
  cancel(): void;
}

export interface AppAttachAnswer {
  /** The AppAttachReqAns of our answer. */
  answer: AppAttachReqAns;
  /** The flow being built; it starts as soon as the answer is on its way. */
  connection: Promise<AppConnection>;
}

export interface AppAttachStrategy {
  /** What this strategy calls itself in errors and logs. */
  readonly name: string;
  /** Our request for an Application-ID (already checked by the service). */
  offer(applicationId: number): Promise<AppAttachOffer>;
  /**
   * Answers a request from `requester` (the Node-ID that signed it). Throws ErrorAnswer
   * (Error_Incompatible_with_Overlay) when the request offers no candidate this strategy can use.
   */
  answer(request: AppAttachReqAns, requester: Uint8Array): Promise<AppAttachAnswer>;
  /** Closes every flow, agent and listener this strategy made. */
  close(): Promise<void>;
}

/** The role strings of an AppAttach (as Attach's: requester "passive", answerer "active"). */
export const APP_ROLE_REQUESTER = 'passive';
export const APP_ROLE_ANSWERER = 'active';
