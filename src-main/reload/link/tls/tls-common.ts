/**
 * What every mutually authenticated TLS connection of a node shares, whether it carries a RELOAD link
 * (TlsEndpoint) or an application flow from AppAttach: TLS 1.2 with our certificate and key, the peer's
 * certificate requested but judged by the overlay's TrustPolicy (not by Node's chain and host-name checks,
 * which know nothing of reload:// identities), an optional expected Node-ID, and the NSS key log.
 */
import { appendFileSync } from 'node:fs';
import { connect as tlsConnect, type ConnectionOptions, type TlsOptions, type TLSSocket } from 'node:tls';
import type { KeyObject } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { bytesEqual } from '../../wire';
import { CertificateRejectedError, type TrustPolicy, type ValidatedIdentity } from '../../identity';
import { LinkConnectError, PeerRejectedError } from '../link';

export interface TlsCredentials {
  privateKey: KeyObject;
  /** Our certificate, then any chain to send. */
  certificates: Uint8Array[];
}

const pem = (der: Uint8Array) =>
  `-----BEGIN CERTIFICATE-----\n${Buffer.from(der).toString('base64')}\n-----END CERTIFICATE-----\n`;

function common(c: TlsCredentials) {
  return {
    key: c.privateKey.export({ format: 'pem', type: 'pkcs8' }),
    cert: c.certificates.map(pem).join(''),
    rejectUnauthorized: false, // judged by the TrustPolicy (judgeTlsPeer)
    minVersion: 'TLSv1.2',
    maxVersion: 'TLSv1.2',
  } as const;
}

/** Options of a TLS server that asks every client for its certificate. */
export function tlsServerOptions(c: TlsCredentials): TlsOptions {
  return { ...common(c), requestCert: true };
}

/** Options of a TLS client that presents our certificate and leaves the server's to judgeTlsPeer. */
export function tlsClientOptions(c: TlsCredentials): ConnectionOptions {
  return { ...common(c), checkServerIdentity: () => undefined };
}

/**
 * Opens a TLS connection and resolves once the handshake is done (the peer's certificate is not judged
 * yet). Fails with LinkConnectError.
 */
export function tlsDial(
  address: { host: string; port: number },
  c: TlsCredentials,
  keyLogFile?: string,
): Promise<TLSSocket> {
  const { host, port } = address;
  return new Promise<TLSSocket>((resolve, reject) => {
    const s = tlsConnect({ host, port, ...tlsClientOptions(c) });
    tlsKeyLog(s, keyLogFile);
    s.once('secureConnect', () => resolve(s));
    s.once('error', (error) =>
      reject(new LinkConnectError(`TLS connection to ${host}:${port} failed: ${error.message}`, { cause: error })),
    );
  });
}

/**
 * The peer of a TLS connection as the TrustPolicy sees it; with `expectedNodeId` its certificate must also
 * carry that Node-ID. Throws PeerRejectedError (the caller closes the socket).
 */
export function judgeTlsPeer(socket: TLSSocket, policy: TrustPolicy, expectedNodeId?: Uint8Array): ValidatedIdentity {
  const cert = socket.getPeerX509Certificate();
  if (!cert) throw new PeerRejectedError('the peer presented no certificate');
  let peer: ValidatedIdentity;
  try {
    peer = policy.validate(new Uint8Array(cert.raw));
  } catch (error) {
    if (error instanceof CertificateRejectedError)
      throw new PeerRejectedError(`peer certificate refused: ${error.message}`);
    throw error;
  }
  if (expectedNodeId && !peer.nodeIds.some((id) => bytesEqual(id, expectedNodeId)))
    throw new PeerRejectedError('the peer certificate does not carry the Node-ID we attached to');
  return peer;
}

/** Writes the NSS key log (for Wireshark) of a server or socket to `file`, or $SSLKEYLOGFILE. */
export function tlsKeyLog(emitter: EventEmitter, file?: string): void {
  const target = file ?? process.env.SSLKEYLOGFILE;
  if (target) emitter.on('keylog', (line: Buffer) => appendFileSync(target, line));
}

/** A polite close (close_notify, FIN); a peer that never finishes its side is cut off after `graceMs`. */
export async function closeTlsSocket(socket: TLSSocket, graceMs = 2_000): Promise<void> {
  if (socket.destroyed) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => socket.destroy(), graceMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.end();
    socket.resume();
  });
}
