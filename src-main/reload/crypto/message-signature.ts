/** Signing a message as its originator, and checking one at its destination (RFC 6940 §6.3.4). */
import type { KeyObject } from 'node:crypto';
import {
  CertificateType,
  encodeMessage,
  type ContentsInput,
  type DecodedMessage,
  type EncodeContext,
  type HeaderInput,
} from '../wire';
import { encodeSignerIdentity, messageSignatureInput } from './signed-bytes';
import { verifySignature, type Signer } from './signer';
import type { GenericCertificate } from '../wire';

/**
 * Encodes, signs and assembles a whole message in one pass: the signature is computed over the contents as
 * they were just written into the message.
 */
export function signMessage(
  header: HeaderInput,
  contents: ContentsInput,
  signer: Signer,
  ctx: EncodeContext,
  /** More certificates for the security block (e.g. those of stored values' signers, RFC 6940 §7.4.1). */
  extraCertificates: readonly Uint8Array[] = [],
): Uint8Array {
  const identity = encodeSignerIdentity(signer.identity);
  const certificates =
    extraCertificates.length === 0 ? signer.certificates : withExtra(signer.certificates, extraCertificates);
  return encodeMessage(
    {
      header,
      contents,
      security: (encodedContents) => ({
        certificates,
        signature: {
          algorithm: signer.algorithm,
          identity: signer.identity,
          value: signer.sign(messageSignatureInput(header.overlay, header.transactionId, encodedContents, identity)),
        },
      }),
    },
    ctx,
  );
}

/** Checks a decoded message's signature against the signer's public key, over the bytes as received. */
export function verifyMessage(message: DecodedMessage, publicKey: KeyObject): boolean {
  const input = messageSignatureInput(
    message.header.overlay,
    message.header.transactionId,
    message.signed.contents,
    message.signed.signerIdentity,
  );
  return verifySignature(message.security.signature, input, publicKey);
}

function withExtra(own: readonly GenericCertificate[], extra: readonly Uint8Array[]): GenericCertificate[] {
  const out = [...own];
  const seen = new Set(own.map((c) => Buffer.from(c.certificate).toString('base64')));
  for (const der of extra) {
    const key = Buffer.from(der).toString('base64');
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ type: CertificateType.X509, certificate: der });
  }
  return out;
}
