/**
 * An overlay link (RFC 6940 §6.6): an authenticated, encrypted connection to one peer that carries whole
 * RELOAD messages (or fragments). Every implementation — TLS over TCP, DTLS over UDP with simple
 * reliability, the in-memory network — passes the same compliance suite (test/compliance).
 */
import type { ValidatedIdentity } from '../identity';

export type LinkType = 'TLS-TCP-FH-NO-ICE' | 'DTLS-UDP-SR' | 'DTLS-UDP-SR-NO-ICE' | 'MEMORY';

export type LinkCloseReason = 'local' | 'remote' | 'dead' | 'protocol-error' | 'oversize';

export interface LinkStats {
  messagesSent: number;
  messagesReceived: number;
  bytesSent: number;
  bytesReceived: number;
  retransmissions: number;
  /** Sends refused with LinkCongestedError because the send queue was full. */
  congested: number;
}

/** Default `Link.sendQueueLimit`: 1 MiB. */
export const DEFAULT_SEND_QUEUE_LIMIT = 1024 * 1024;

export interface Link {
  readonly type: LinkType;
  /** The peer as its certificate says (never from a message), checked by the overlay's trust policy. */
  readonly peer: ValidatedIdentity;
  /** Largest message `send` accepts in one piece; larger ones must be fragmented first. */
  readonly maxMessageSize: number;
  /** Smoothed round-trip time from the link's own acknowledgements, once measured. */
  readonly rttMs: number | undefined;
  readonly closed: boolean;
  readonly stats: LinkStats;
  /** Most bytes accepted by `send` but not yet on the wire before further sends fail (LinkCongestedError). */
  sendQueueLimit: number;
  /** Bytes accepted by `send` but not yet on the wire. */
  readonly queuedBytes: number;
  /**
   * Resolves when the message is handed to the transport (backpressure: slow peers make it wait). Rejects
   * with LinkCongestedError, leaving the link open, if a backlog exists and the message would exceed
   * `sendQueueLimit`; a message sent with nothing queued is always accepted.
   */
  send(message: Uint8Array): Promise<void>;
  onMessage(listener: (message: Uint8Array) => void): () => void;
  onClose(listener: (reason: LinkCloseReason, detail?: string) => void): () => void;
  close(): Promise<void>;
}

/** What a node needs to open and accept links of one type. */
export interface LinkEndpoint {
  readonly type: LinkType;
  onLink(listener: (link: Link) => void): () => void;
  /** Connects to a peer; if `expectedNodeId` is given the peer's certificate must carry it. */
  connect(address: unknown, expectedNodeId?: Uint8Array): Promise<Link>;
  close(): Promise<void>;
}

export class LinkClosedError extends Error {
  constructor(readonly reason: LinkCloseReason) {
    super(`the link is closed (${reason})`);
    this.name = 'LinkClosedError';
  }
}

export class MessageTooLargeError extends Error {
  constructor(
    readonly size: number,
    readonly limit: number,
  ) {
    super(`message of ${size} bytes exceeds the link's ${limit}-byte limit; fragment it first`);
    this.name = 'MessageTooLargeError';
  }
}

/** The send queue is full: the peer (or the path to it) is not keeping up. The link stays open. */
export class LinkCongestedError extends Error {
  constructor(
    readonly queuedBytes: number,
    readonly limit: number,
  ) {
    super(`the link's send queue holds ${queuedBytes} bytes (limit ${limit}): the peer is not keeping up`);
    this.name = 'LinkCongestedError';
  }
}

/** The peer's certificate is not acceptable, or does not carry the Node-ID we meant to reach. */
export class PeerRejectedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PeerRejectedError';
  }
}

export class LinkConnectError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'LinkConnectError';
  }
}
