/**
 * The one way SIP messages move in this layer (modelled on sip.js's tiny Transport): a connection-like flow
 * to one party that sends and receives whole SIP messages as text. Implementations: the local SIP interface
 * (UDP datagrams and TCP streams from standard SIP phones on loopback), SIP over AppAttach connections to
 * other peers (stream or datagram framing), and, in a later issue, the renderer's sip.js UserAgent over IPC.
 * The proxy core sees only this interface, so a new kind of party never touches it.
 */
import type { SipMessage } from '../message/parse';

/** Who is at the other end, as far as this peer can vouch for it. */
export type SipParty =
  /** A SIP UA on this machine (the local interface): only its address is known. */
  | { kind: 'local'; address: string; port: number }
  /**
   * Another peer of the overlay over an AppAttach connection: its Node-ID and the user name (AOR) its
   * certificate carries, both checked by the RELOAD layer before the connection was handed out.
   */
  | { kind: 'overlay'; nodeId: Uint8Array; user: string }
  /** The app's own UA (renderer) over IPC. */
  | { kind: 'app' };

export interface SipTransport {
  /** Unique per flow, for logs, status and Via branch bookkeeping. */
  readonly id: string;
  /** The Via transport token for this flow ('UDP', 'TCP', 'TLS', 'DTLS', 'WS'). */
  readonly protocol: string;
  /** 'datagram': one message per datagram; 'stream': messages framed by Content-Length. */
  readonly framing: 'datagram' | 'stream';
  readonly party: SipParty;
  readonly closed: boolean;
  /** Sends one whole SIP message. Rejects once closed or when the message cannot be sent. */
  send(message: string): Promise<void>;
  /**
   * Each whole message as it arrives (already framed). `parsed`, when given, is that text as parseSipMessage
   * returned it (the transport already checked it), so the receiver need not parse it again; without it the
   * receiver parses and checks the text itself. Returns an unsubscribe.
   */
  onMessage(listener: (message: string, parsed?: SipMessage) => void): () => void;
  /** Once, when the flow closes (by either side or on error). Returns an unsubscribe. */
  onClose(listener: (reason: string) => void): () => void;
  close(reason?: string): void;
}
