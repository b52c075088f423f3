/** Signing a message as its originator, and checking one at its destination (RFC 6940 §6.3.4). */
import type { KeyObject } from 'node:crypto';
import { encodeMessage, type ContentsInput, type DecodedMessage, type EncodeContext, type HeaderInput } from '../wire';
import { encodeSignerIdentity, messageSignatureInput } from './signed-bytes';
import { verifySignature, type Signer } from './signer';

/**
 * Encodes, signs and assembles a whole message in one pass: the signature is computed over the contents as
 * they were just written into the message.
 */
export function signMessage(
  header: HeaderInput,
  contents: ContentsInput,
  signer: Signer,
  ctx: EncodeContext,
): Uint8Array {
  const identity = encodeSignerIdentity(signer.identity);
  return encodeMessage(
    {
      header,
      contents,
      security: (encodedContents) => ({
        certificates: signer.certificates,
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
