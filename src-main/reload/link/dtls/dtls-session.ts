/**
 * One DTLS 1.2 association (werift-dtls, patched to verify the peer's proof of key possession and its
 * Finished message: see patches/werift-dtls+*.patch) over any datagram path: a UDP 5-tuple of a
 * DtlsEndpoint today, the pair ICE selects later. It hands datagrams in and out, runs the handshake with mutual certificate authentication,
 * and keeps werift away from records it handles badly:
 * - after the handshake, plaintext (epoch 0) records are dropped: werift would restart the session on a
 *   plaintext ClientHello (renegotiation) and close it on a plaintext alert, both of which anybody able to
 *   send from the peer's address could forge;
 * - alerts are read here, not by werift: an encrypted alert is decrypted and authenticated before it counts
 *   (werift takes the first two ciphertext bytes for the alert when they look like one), and werift
 *   ignores fatal alerts altogether;
 * - records of unknown content types (werift treats them as alerts) and malformed datagrams are dropped.
 * The peer's certificate is only reported here; whether it is acceptable is the endpoint's question.
 */
import { createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { DtlsClient, DtlsServer, type DtlsSocket, type SignatureHash } from 'werift-dtls/lib/dtls/src/index.js';
import type { Clock } from '../../clock';
import { LinkConnectError, PeerRejectedError } from '../link';

/** Where the association's datagrams go. */
export interface DatagramPath {
  send(datagram: Uint8Array): Promise<void>;
}

export interface DtlsCredentials {
  privateKey: KeyObject;
  /** Our certificate (DER). werift sends this one certificate, no chain. */
  certificate: Uint8Array;
}

const CONTENT_CHANGE_CIPHER_SPEC = 20;
const CONTENT_ALERT = 21;
const CONTENT_HANDSHAKE = 22;
const CONTENT_APPLICATION_DATA = 23;
const RECORD_HEADER = 13;
const HANDSHAKE_CLIENT_HELLO = 1;
export const ALERT_FATAL = 2;
export const ALERT_CLOSE_NOTIFY = 0;
export const ALERT_HANDSHAKE_FAILURE = 40;
export const ALERT_BAD_CERTIFICATE = 42;
export const ALERT_UNEXPECTED_MESSAGE = 10;
export const ALERT_DECRYPT_ERROR = 51;
/** RFC 6347: a DTLS record carries at most 2^14 bytes of plaintext. */
export const MAX_RECORD_PLAINTEXT = 16_384;

const pem = (label: string, der: Uint8Array) =>
  `-----BEGIN ${label}-----\n${Buffer.from(der)
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .trimEnd()}\n-----END ${label}-----\n`;

/**
 * The signature werift makes with our key (in ServerKeyExchange and CertificateVerify), from the key type.
 * Refuses a key that does not belong to the certificate: werift would sign with one and send the other.
 */
export function credentialsFor({ privateKey, certificate }: DtlsCredentials): {
  cert: string;
  key: string;
  signatureHash: SignatureHash;
} {
  const certificateKey = new X509Certificate(certificate).publicKey;
  const ours = createPublicKey(privateKey);
  if (!ours.equals(certificateKey)) throw new Error('the private key does not belong to the certificate');
  let signature: SignatureHash['signature'];
  if (privateKey.asymmetricKeyType === 'rsa') signature = 1;
  else if (privateKey.asymmetricKeyType === 'ec' && privateKey.asymmetricKeyDetails?.namedCurve === 'prime256v1')
    signature = 3;
  else throw new Error(`DTLS identities must be RSA or ECDSA P-256 keys, not ${privateKey.asymmetricKeyType ?? '?'}`);
  return {
    cert: pem('CERTIFICATE', certificate),
    key: privateKey.export({ format: 'pem', type: 'pkcs8' }) as string,
    signatureHash: { hash: 4, signature },
  };
}

interface RecordHeader {
  type: number;
  epoch: number;
  sequence: number;
  length: number;
}

function readRecordHeader(d: Uint8Array, at: number): RecordHeader {
  const view = new DataView(d.buffer, d.byteOffset + at, RECORD_HEADER);
  return {
    type: view.getUint8(0),
    epoch: view.getUint16(3),
    sequence: view.getUint16(5) * 2 ** 32 + view.getUint32(7),
    length: view.getUint16(11),
  };
}

/** True when `datagram` starts with a plaintext ClientHello: the only thing that may open a server session. */
export function isClientHello(datagram: Uint8Array): boolean {
  if (datagram.length < RECORD_HEADER + 12) return false;
  const h = readRecordHeader(datagram, 0);
  return h.type === CONTENT_HANDSHAKE && h.epoch === 0 && datagram[RECORD_HEADER] === HANDSHAKE_CLIENT_HELLO;
}

/** RFC 7983: DTLS records start with a content type byte of 20..63 (STUN, TURN, RTP have other ranges). */
export function looksLikeDtls(datagram: Uint8Array): boolean {
  const first = datagram[0];
  return first !== undefined && first >= 20 && first <= 63;
}

export type SessionCloseCause = { alert: number; fatal: boolean };

/** The DTLS handshake did not finish in time. */
export class DtlsHandshakeTimeoutError extends LinkConnectError {
  constructor(message: string) {
    super(message);
    this.name = 'DtlsHandshakeTimeoutError';
  }
}

/** The peer's Finished message is refused; `alert` is the fatal alert we answer with. */
export abstract class DtlsFinishedError extends LinkConnectError {
  abstract readonly alert: number;
}

/**
 * The verify_data of the peer's Finished does not match our handshake transcript: a handshake message was
 * altered on the way (or the peer is broken). Answered with decrypt_error (RFC 5246 §7.4.9).
 */
export class DtlsFinishedMismatchError extends DtlsFinishedError {
  readonly alert = ALERT_DECRYPT_ERROR;
  constructor(message: string) {
    super(message);
    this.name = 'DtlsFinishedMismatchError';
  }
}

/** A Finished came before the key exchange it concludes: nothing to check it with. unexpected_message. */
export class DtlsUnexpectedFinishedError extends DtlsFinishedError {
  readonly alert = ALERT_UNEXPECTED_MESSAGE;
  constructor(message: string) {
    super(message);
    this.name = 'DtlsUnexpectedFinishedError';
  }
}

export class DtlsSession {
  private readonly socket: DtlsSocket;
  private readonly transport;
  private established = false;
  private disposed = false;
  private handshakeFailure: ((error: Error) => void) | undefined;
  /** Application data records, decrypted. */
  onData: (payload: Uint8Array) => void = () => undefined;
  /** An authenticated close_notify or fatal alert from the peer after the handshake. */
  onPeerClose: (cause: SessionCloseCause) => void = () => undefined;

  constructor(
    readonly role: 'client' | 'server',
    credentials: DtlsCredentials,
    private readonly path: DatagramPath,
    remote: { host: string; port: number },
  ) {
    // werift's Transport: it sets onData to its own receiver and sends through send().
    this.transport = {
      type: 'udp',
      closed: false,
      address: {
        address: remote.host,
        port: remote.port,
        family: remote.host.includes(':') ? 'IPv6' : 'IPv4',
      } satisfies AddressInfo,
      onData: (() => undefined) as (data: Buffer, addr: unknown) => void,
      send: async (data: Buffer) => {
        if (!this.disposed) await this.path.send(data).catch(() => undefined);
      },
      close: async () => undefined,
    };
    const { cert, key, signatureHash } = credentialsFor(credentials);
    const options = {
      transport: this.transport as unknown as ConstructorParameters<typeof DtlsClient>[0]['transport'],
      cert,
      key,
      signatureHash,
      // Server: require the client's certificate. Client: require the server to ask for ours.
      certificateRequest: true,
    };
    this.socket = role === 'client' ? new DtlsClient(options) : new DtlsServer(options);
    this.socket.onData.subscribe((data: Buffer) => {
      if (!this.disposed && this.established)
        this.onData(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    });
    this.socket.onError.subscribe((error: unknown) => this.failHandshake(error));
  }

  get isEstablished(): boolean {
    return this.established;
  }

  /**
   * Runs the handshake; resolves with the certificate the peer proved it holds the key of, once the peer's
   * Finished has been verified. Rejects with PeerRejectedError when the peer's proof is wrong,
   * DtlsFinishedError when its Finished is, LinkConnectError on a timeout, an alert or any other failure.
   * Sends a fatal alert to the peer when it fails here.
   */
  handshake(clock: Clock, timeoutMs: number): Promise<Uint8Array> {
    return new Promise<Uint8Array>((resolve, reject) => {
      const finish = (failure?: Error) => {
        if (!this.handshakeFailure) return;
        this.handshakeFailure = undefined;
        timer.cancel();
        const certificate = failure ? undefined : this.socket.remoteCertificate;
        if (!certificate?.length) {
          const error = failure ?? new PeerRejectedError('the peer presented no certificate');
          const alert =
            error instanceof PeerRejectedError
              ? ALERT_BAD_CERTIFICATE
              : error instanceof DtlsFinishedError
                ? error.alert
                : ALERT_HANDSHAKE_FAILURE;
          void this.sendAlert(ALERT_FATAL, alert).finally(() => this.dispose());
          reject(error);
          return;
        }
        this.established = true;
        resolve(new Uint8Array(certificate));
      };
      this.handshakeFailure = (error) => finish(error);
      const timer = clock.setTimeout(
        () => finish(new DtlsHandshakeTimeoutError(`DTLS handshake timed out after ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.socket.onConnect.subscribe(() => {
        if (this.handshakeFailure) finish();
      });
      if (this.socket instanceof DtlsClient) this.socket.connect().catch((error: unknown) => this.failHandshake(error));
    });
  }

  /** Hands one received datagram to the association. */
  receive(datagram: Uint8Array): void {
    if (this.disposed) return;
    const accepted: Uint8Array[] = [];
    for (let at = 0; at + RECORD_HEADER <= datagram.length;) {
      const header = readRecordHeader(datagram, at);
      const end = at + RECORD_HEADER + header.length;
      if (end > datagram.length) break; // truncated: the rest is unusable
      const record = datagram.subarray(at, end);
      at = end;
      if (header.type < CONTENT_CHANGE_CIPHER_SPEC || header.type > CONTENT_APPLICATION_DATA) continue;
      if (header.type === CONTENT_ALERT) {
        this.alertReceived(header, record);
        continue;
      }
      if (this.established && header.epoch === 0) continue;
      accepted.push(record);
    }
    for (const record of accepted) {
      try {
        this.transport.onData(Buffer.from(record.buffer, record.byteOffset, record.byteLength), undefined);
      } catch {
        // werift throws on malformed records it did not anticipate; a bad datagram is just dropped
      }
    }
  }

  /** Sends one application data record. */
  async send(payload: Uint8Array): Promise<void> {
    if (this.disposed || !this.established) return;
    await this.socket.send(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength));
  }

  /** Sends an alert: encrypted once the handshake is done, in the clear before. */
  async sendAlert(level: number, description: number): Promise<void> {
    if (this.disposed) return;
    try {
      const { dtls, cipher } = this.socket;
      const encrypted = dtls.epoch > 0 && cipher.cipher !== undefined;
      const sequenceNumber = ++dtls.recordSequenceNumber;
      let fragment: Buffer = Buffer.from([level, description]);
      if (encrypted) {
        const packet = {
          recordLayerHeader: {
            contentType: CONTENT_ALERT,
            protocolVersion: dtls.version,
            epoch: dtls.epoch,
            sequenceNumber,
            contentLen: fragment.length,
          },
          fragment,
        } as unknown as Parameters<typeof cipher.encryptPacket>[0];
        fragment = cipher.encryptPacket(packet).fragment;
      }
      const record = Buffer.alloc(RECORD_HEADER + fragment.length);
      record.writeUInt8(CONTENT_ALERT, 0);
      record.writeUInt8(dtls.version.major, 1);
      record.writeUInt8(dtls.version.minor, 2);
      record.writeUInt16BE(encrypted ? dtls.epoch : 0, 3);
      record.writeUIntBE(sequenceNumber, 5, 6);
      record.writeUInt16BE(fragment.length, 11);
      fragment.copy(record, RECORD_HEADER);
      await this.path.send(record);
    } catch {
      // best effort: the peer learns of the close some other way
    }
  }

  /** NSS key log line (`CLIENT_RANDOM <client random> <master secret>`), once established. */
  keyLogLine(): string | undefined {
    const { cipher } = this.socket;
    if (!this.established || !cipher.masterSecret) return undefined;
    const clientRandom = this.role === 'client' ? cipher.localRandom : cipher.remoteRandom;
    return `CLIENT_RANDOM ${clientRandom.serialize().toString('hex')} ${cipher.masterSecret.toString('hex')}\n`;
  }

  /** Stops handing anything to or from werift (its own retransmission timers run out by themselves). */
  dispose(): void {
    if (this.disposed) return;
    this.failHandshake(new LinkConnectError('the DTLS association was closed'));
    this.disposed = true;
    this.transport.closed = true;
    this.onData = () => undefined;
    this.onPeerClose = () => undefined;
  }

  private failHandshake(error: unknown): void {
    const fail = this.handshakeFailure;
    if (!fail) return;
    if (isPeerSignatureError(error))
      fail(new PeerRejectedError(`the peer did not prove it holds its certificate's key: ${errorMessage(error)}`));
    else if (errorCode(error) === 'ERR_DTLS_FINISHED') {
      // the patch names the alert: unexpected_message when too early, decrypt_error otherwise
      const message = `the peer's DTLS Finished was refused: ${errorMessage(error)}`;
      const early = (error as { alert?: unknown }).alert === ALERT_UNEXPECTED_MESSAGE;
      fail(early ? new DtlsUnexpectedFinishedError(message) : new DtlsFinishedMismatchError(message));
    } else fail(new LinkConnectError(`DTLS handshake failed: ${errorMessage(error)}`, { cause: error }));
  }

  private alertReceived(header: RecordHeader, record: Uint8Array): void {
    let body = record.subarray(RECORD_HEADER);
    if (header.epoch > 0) {
      if (!this.established) return;
      try {
        const { cipher, dtls } = this.socket;
        const packet = {
          recordLayerHeader: {
            contentType: CONTENT_ALERT,
            protocolVersion: dtls.version,
            epoch: header.epoch,
            sequenceNumber: header.sequence,
            contentLen: body.length,
          },
          fragment: Buffer.from(body.buffer, body.byteOffset, body.byteLength),
        } as unknown as Parameters<typeof cipher.decryptPacket>[0];
        body = cipher.decryptPacket(packet);
      } catch {
        return; // not from the peer
      }
    } else if (this.established) {
      return; // a plaintext alert after the handshake is not authenticated: ignored
    }
    const [level, description] = body;
    if (level === undefined || description === undefined) return;
    const fatal = level === ALERT_FATAL;
    if (!fatal && description !== ALERT_CLOSE_NOTIFY) return; // warnings change nothing
    if (!this.established) {
      this.handshakeFailure?.(new LinkConnectError(`the peer ended the DTLS handshake (alert ${description})`));
      return;
    }
    this.onPeerClose({ alert: description, fatal });
  }
}

function errorCode(error: unknown): unknown {
  return typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
}

function isPeerSignatureError(error: unknown): boolean {
  return errorCode(error) === 'ERR_DTLS_PEER_SIGNATURE';
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
