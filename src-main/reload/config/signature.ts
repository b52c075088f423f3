/**
 * Signatures on configurations and kind-blocks (RFC 6940 §11.1): a RELOAD SecurityBlock, base64-encoded,
 * over the exact UTF-8 text of the signed element. RFC 6940 does not say whether SignerIdentity is
 * appended to the signed bytes as for messages and stored data; we append it, for the same reason those
 * do — it binds the signature to the certificate it names (docs/decisions.md).
 */
import {
  createSigner,
  encodeSignerIdentity,
  findSignerCertificate,
  verifySignature,
  type Signer,
  type SignerOptions,
} from '../crypto';
import { readCertificate, CertificateRejectedError, type TrustPolicy, type ValidatedIdentity } from '../identity';
import { decodeContext, encodeWith, readSecurityBlock, ReloadDecodeError, Reader, writeSecurityBlock } from '../wire';
import { ConfigurationSignatureError } from './errors';

const utf8 = new TextEncoder();

function signedBytes(text: string, identity: Uint8Array): Uint8Array {
  const body = utf8.encode(text);
  const out = new Uint8Array(body.length + identity.length);
  out.set(body);
  out.set(identity, body.length);
  return out;
}

export function signText(text: string, signer: Signer): string {
  const value = signer.sign(signedBytes(text, encodeSignerIdentity(signer.identity)));
  const block = encodeWith(writeSecurityBlock, {
    certificates: signer.certificates,
    signature: { algorithm: signer.algorithm, identity: signer.identity, value },
  });
  return Buffer.from(block).toString('base64');
}

export function signerFor(options: SignerOptions): Signer {
  return createSigner(options);
}

/**
 * Checks `signatureB64` over `text`: the signer's certificate (from the block) must pass `policy`, carry a
 * Node-ID in `allowed`, and its key must have made the signature.
 */
export function verifyText(
  text: string,
  signatureB64: string | undefined,
  policy: TrustPolicy,
  allowed: readonly Uint8Array[],
  field: string,
  now: Date = new Date(),
): ValidatedIdentity {
  if (!signatureB64) throw new ConfigurationSignatureError('is not signed', field);
  const bytes = new Uint8Array(Buffer.from(signatureB64, 'base64'));
  let block;
  try {
    const r = new Reader(
      bytes,
      decodeContext({ maxMessageSize: bytes.length + 38, nodeIdLength: policy.settings.nodeIdLength }),
    );
    block = readSecurityBlock(r);
    r.done('SecurityBlock');
  } catch (error) {
    if (error instanceof ReloadDecodeError)
      throw new ConfigurationSignatureError(`signature is not a SecurityBlock: ${error.message}`, field);
    throw error;
  }
  const nodeIdsOf = (der: Uint8Array) => {
    try {
      return readCertificate(der, policy.settings.overlay, policy.settings.nodeIdLength).nodeIds;
    } catch {
      return [];
    }
  };
  const found = findSignerCertificate(block.signature.identity, block.certificates, nodeIdsOf);
  if (!found) throw new ConfigurationSignatureError('the signer certificate is not in the signature block', field);
  let identity: ValidatedIdentity;
  try {
    identity = policy.validate(found.certificate, now);
  } catch (error) {
    if (error instanceof CertificateRejectedError)
      throw new ConfigurationSignatureError(`signer certificate refused: ${error.message}`, field);
    throw error;
  }
  const signerIds = found.nodeId ? [found.nodeId] : identity.nodeIds;
  if (!policy.isSignerAllowed({ ...identity, nodeIds: signerIds }, allowed)) {
    throw new ConfigurationSignatureError('signed by a node that is not an authorised signer', field);
  }
  const input = signedBytes(text, encodeSignerIdentity(block.signature.identity));
  if (!verifySignature(block.signature, input, identity.certificate.publicKey)) {
    throw new ConfigurationSignatureError('signature does not verify', field);
  }
  return identity;
}
