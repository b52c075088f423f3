/**
 * DTLS-UDP-SR links (RFC 6940 §6.6.1): a DtlsSession over the pair an IceAgent nominated, then a DtlsLink
 * with Simple Reliability on top. RFC 6940 §6.5.1.1 makes the Attach requester the DTLS server (it asks
 * for the client's certificate) and the answerer the DTLS client. As with DtlsEndpoint, werift (patched)
 * proves key possession, the overlay's TrustPolicy judges the certificate, and the Node-IDs come from it.
 */
import { appendFileSync } from 'node:fs';
import type { KeyObject } from 'node:crypto';
import { realClock, type Clock } from '../../clock';
import { bytesEqual } from '../../wire';
import { CertificateRejectedError, type TrustPolicy, type ValidatedIdentity } from '../../identity';
import { PeerRejectedError, type Link } from '../link';
import { DTLS_MAX_MESSAGE_SIZE } from '../dtls/dtls-endpoint';
import { DtlsLink } from '../dtls/dtls-link';
import { ALERT_CLOSE_NOTIFY, credentialsFor, DtlsSession, looksLikeDtls } from '../dtls/dtls-session';
import type { IceAgent } from './ice-agent';

export interface IceDtlsOptions {
  /** A connected agent; it belongs to the link from now on (closed with it, or on failure). */
  agent: IceAgent;
  /** 'requester' of the Attach: DTLS server; 'answerer': DTLS client. */
  attachRole: 'requester' | 'answerer';
  privateKey: KeyObject;
  /** Our certificate, then any chain (werift sends only the first). */
  certificates: Uint8Array[];
  policy: TrustPolicy;
  /** The Node-ID we attached to (or that attached to us): the certificate must carry it. */
  expectedNodeId?: Uint8Array;
  maxMessageSize?: number;
  clock?: Clock;
  /** A handshake not finished by then fails (default 10 s). */
  handshakeTimeoutMs?: number;
  /** Simple Reliability's RTO before the first RTT sample (default 500 ms). */
  initialRtoMs?: number;
  /** NSS key log for Wireshark (defaults to $SSLKEYLOGFILE); never set in production. */
  keyLogFile?: string;
}

export async function connectOverIce(options: IceDtlsOptions): Promise<Link> {
  const { agent } = options;
  const certificate = options.certificates[0];
  const remote = agent.remoteAddress;
  if (!certificate || !remote) {
    await agent.close();
    throw new Error(certificate ? 'the ICE agent is not connected' : 'a DTLS link needs a certificate');
  }
  const credentials = { privateKey: options.privateKey, certificate };
  credentialsFor(credentials); // refuses a key that does not fit
  const clock = options.clock ?? realClock;
  const session = new DtlsSession(
    options.attachRole === 'requester' ? 'server' : 'client',
    credentials,
    { send: (datagram) => agent.send(datagram) },
    remote,
  );
  const handshake = session.handshake(clock, options.handshakeTimeoutMs ?? 10_000);
  const unsubscribe = agent.onData((datagram) => {
    if (looksLikeDtls(datagram)) session.receive(datagram);
  });
  let peer: ValidatedIdentity;
  try {
    peer = judge(options.policy, await handshake);
    const expected = options.expectedNodeId;
    if (expected && !peer.nodeIds.some((id) => bytesEqual(id, expected)))
      throw new PeerRejectedError('the peer certificate does not carry the Node-ID we attached to');
  } catch (error) {
    if (session.isEstablished) await session.sendAlert(1, ALERT_CLOSE_NOTIFY);
    session.dispose();
    unsubscribe();
    await agent.close();
    throw error;
  }
  const file = options.keyLogFile ?? process.env.SSLKEYLOGFILE;
  const line = file ? session.keyLogLine() : undefined;
  if (file && line) appendFileSync(file, line);
  const link = new DtlsLink(session, peer, {
    type: 'DTLS-UDP-SR',
    maxMessageSize: Math.min(options.maxMessageSize ?? 5000, DTLS_MAX_MESSAGE_SIZE),
    clock,
    initialRtoMs: options.initialRtoMs ?? 500,
    onClosed: () => {
      unsubscribe();
      void agent.close();
    },
  });
  // An idle link learns of a vanished peer from the STUN keepalives; a busy one sooner, from SR's retries.
  agent.onFailed((reason) => link.lost(reason));
  return link;
}

/** The TrustPolicy's verdict, as DtlsEndpoint reports it. */
function judge(policy: TrustPolicy, certificate: Uint8Array): ValidatedIdentity {
  try {
    return policy.validate(certificate);
  } catch (error) {
    if (error instanceof CertificateRejectedError)
      throw new PeerRejectedError(`peer certificate refused: ${error.message}`);
    throw error;
  }
}
