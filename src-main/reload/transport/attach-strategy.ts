/**
 * How an Attach becomes a link (RFC 6940 §6.5.1). An overlay is all-ICE or all-No-ICE (its `no-ice`
 * setting), so a node uses one strategy: ICE with DTLS-UDP-SR over the selected pair, or No-ICE with
 * TLS-TCP-FH-NO-ICE. The AttachService runs the protocol around it (who answers, glare, retransmission);
 * the strategy only fills in the AttachReqAns and builds the link.
 */
import type { Link } from '../link/link';
import type { AttachReqAns } from '../wire';

/** One Attach request of ours, before its answer. */
export interface AttachOffer {
  /** The AttachReqAns our request carries. */
  readonly request: AttachReqAns;
  /**
   * Builds the link from the answer. `peer` is the Node-ID that signed the answer: the link's certificate
   * must carry it.
   */
  complete(answer: AttachReqAns, peer: Uint8Array): Promise<Link>;
  /** The request failed or was given up: release what the offer holds (sockets, agents, waits). */
  cancel(): void;
}

export interface AttachAnswer {
  /** The AttachReqAns of our answer. */
  answer: AttachReqAns;
  /** The link being built; it starts as soon as the answer is on its way. */
  link: Promise<Link>;
}

export interface AttachStrategy {
  /** What this strategy calls itself in errors and status ('ICE' or 'No-ICE TLS'). */
  readonly name: string;
  offer(sendUpdate: boolean): Promise<AttachOffer>;
  /**
   * Answers a request from `requester`. Throws ErrorAnswer(Error_Incompatible_with_Overlay) when the
   * request offers no candidate this strategy can use.
   */
  answer(request: AttachReqAns, requester: Uint8Array): Promise<AttachAnswer>;
  /** Links that arrive without an Attach of ours (e.g. a joining node connecting to us, a bootstrap node). */
  onUnsolicited(listener: (link: Link) => void): void;
  close(): Promise<void>;
}
