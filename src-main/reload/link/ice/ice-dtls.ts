/**
 * DTLS-UDP-SR links (RFC 6940 §6.6.1): a DtlsSession over the pair an IceAgent nominated, then a DtlsLink
 * with Simple Reliability on top. RFC 6940 §6.5.1.1 makes the Attach requester the DTLS server (it asks
 * for the client's certificate) and the answerer the DTLS client. As with DtlsEndpoint, werift (patched)
 * proves key possession, the overlay's TrustPolicy judges the certificate, and the Node-IDs come from it.
 * `handshakeOverIce` is the part without a link: AppAttach flows (transport/app-attach-ice.ts) use it too.
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

export interface IceDtlsHandshakeOptions {
  /** A connected agent. On failure it is closed here; on success it belongs to whoever takes the session. */
  agent: IceAgent;
  /** 'requester' of the Attach (or AppAttach): DTLS server; 'answerer': DTLS client. */
  attachRole: 'requester' | 'answerer';
  privateKey: KeyObject;
  /** Our certificate, then any chain (werift sends only the first). */
  certificates: Uint8Array[];
  policy: TrustPolicy;
  /** The Node-ID we attached to (or that attached to us): the certificate must carry it. */
  expectedNodeId?: Uint8Array;
  clock?: Clock;
  /** A handshake not finished by then fails (default 10 s). */
  handshakeTimeoutMs?: number;
  /** NSS key log for Wireshark (defaults to $SSLKEYLOGFILE); never set in production. */
  keyLogFile?: string;
}

export interface IceDtlsOptions extends IceDtlsHandshakeOptions {
  maxMessageSize?: number;
  /** Simple Reliability's RTO before the first RTT sample (default 500 ms). */
  initialRtoMs?: number;
}

/** An established, judged DTLS association over an ICE agent's selected pair. */
export interface IceDtlsAssociation {
  session: DtlsSession;
  peer: ValidatedIdentity;
  /**
   * Application data that arrived with (or right behind) the peer's last handshake flight, before anyone
   * took the session's onData: a consumer that delivers data may hand these on first.
   */
  early: Uint8Array[];
  /** Stops handing the agent's datagrams to the session. */
  detach: () => void;
}

/**
 * Runs the DTLS handshake over a connected ICE agent and judges the peer (TrustPolicy, expected Node-ID).
 * On any failure the session is disposed, the peer told (close_notify or a fatal alert) and the agent closed.
 */
export async function handshakeOverIce(options: IceDtlsHandshakeOptions): Promise<IceDtlsAssociation> {
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
  const early: Uint8Array[] = [];
  session.onData = (data) => void (early.length < 16 && early.push(data.slice()));
  const handshake = session.handshake(clock, options.handshakeTimeoutMs ?? 10_000);
  const detach = agent.onData((datagram) => {
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
    detach();
    await agent.close();
    throw error;
  }
  const file = options.keyLogFile ?? process.env.SSLKEYLOGFILE;
  const line = file ? session.keyLogLine() : undefined;
  if (file && line) appendFileSync(file, line);
  return { session, peer, early, detach };
}

export async function connectOverIce(options: IceDtlsOptions): Promise<Link> {
  const { agent } = options;
  const { session, peer, detach } = await handshakeOverIce(options);
  // (Early records are not replayed: Simple Reliability resends what was not acknowledged.)
  const link = new DtlsLink(session, peer, {
    type: 'DTLS-UDP-SR',
    maxMessageSize: Math.min(options.maxMessageSize ?? 5000, DTLS_MAX_MESSAGE_SIZE),
    clock: options.clock ?? realClock,
    initialRtoMs: options.initialRtoMs ?? 500,
    onClosed: () => {
      detach();
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
