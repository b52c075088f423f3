/**
 * A node's signing identity: its private key (a KeyObject, parsed once), its certificate, and the
 * SignerIdentity that names the certificate — cert_hash for a certificate with one Node-ID,
 * cert_hash_node_id (naming the Node-ID that signs) for one with several.
 */
import { createHash, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import {
  CertificateType,
  type GenericCertificate,
  type Signature,
  type SignatureAndHashAlgorithm,
  type SignerIdentity,
} from '../wire';
import { hashCode, hashName, keyMatches, signingAlgorithmFor, type NodeHashName } from './algorithms';

export interface SignerOptions {
  privateKey: KeyObject;
  /** DER of the signer's certificate. */
  certificate: Uint8Array;
  /** Required when the certificate carries several Node-IDs: the one this signer speaks for. */
  multiNodeId?: Uint8Array;
  /** Hash for the certificate fingerprint in SignerIdentity (default SHA-256). */
  identityHash?: NodeHashName;
  /** Extra certificates to send along (e.g. intermediates). */
  chain?: Uint8Array[];
}

export interface Signer {
  readonly algorithm: SignatureAndHashAlgorithm;
  readonly identity: SignerIdentity;
  /** The certificates bucket of a security block that carries this signer's signatures. */
  readonly certificates: GenericCertificate[];
  sign(input: Uint8Array): Uint8Array;
}

export function certificateHash(certificate: Uint8Array, hash: NodeHashName, nodeId?: Uint8Array): Uint8Array {
  const h = createHash(hash);
  if (nodeId) h.update(nodeId);
  return new Uint8Array(h.update(certificate).digest());
}

export function createSigner(options: SignerOptions): Signer {
  const algorithm = signingAlgorithmFor(options.privateKey);
  const hash = options.identityHash ?? 'sha256';
  const identity: SignerIdentity = options.multiNodeId
    ? {
        type: 'cert_hash_node_id',
        hashAlg: hashCode(hash),
        hash: certificateHash(options.certificate, hash, options.multiNodeId),
      }
    : { type: 'cert_hash', hashAlg: hashCode(hash), hash: certificateHash(options.certificate, hash) };
  const digest = hashName(algorithm.hash);
  return {
    algorithm,
    identity,
    certificates: [options.certificate, ...(options.chain ?? [])].map((certificate) => ({
      type: CertificateType.X509,
      certificate,
    })),
    // ECDSA signatures are DER-encoded (r, s), as in TLS 1.2; RSA uses PKCS#1 v1.5 padding.
    sign: (input) => new Uint8Array(cryptoSign(digest, input, options.privateKey)),
  };
}

/** True only when `signature` was made over `input` by the holder of `publicKey`; never throws. */
export function verifySignature(signature: Signature, input: Uint8Array, publicKey: KeyObject): boolean {
  if (!keyMatches(signature.algorithm, publicKey) || signature.value.length === 0) return false;
  try {
    return cryptoVerify(hashName(signature.algorithm.hash), input, publicKey, signature.value);
  } catch {
    return false;
  }
}

/** Does `identity` name this certificate (and, for cert_hash_node_id, this Node-ID)? */
export function identityNames(identity: SignerIdentity, certificate: Uint8Array, nodeId?: Uint8Array): boolean {
  if (identity.type !== 'cert_hash' && identity.type !== 'cert_hash_node_id') return false;
  let name: NodeHashName;
  try {
    name = hashName(identity.hashAlg);
  } catch {
    return false;
  }
  if (identity.type === 'cert_hash_node_id' && !nodeId) return false;
  const expected = certificateHash(certificate, name, identity.type === 'cert_hash_node_id' ? nodeId : undefined);
  return expected.length === identity.hash.length && expected.every((b, i) => b === identity.hash[i]);
}

/** The certificate of the bucket that `identity` names (cert_hash only; cert_hash_node_id needs the Node-IDs). */
export function findSignerCertificate(
  identity: SignerIdentity,
  certificates: readonly GenericCertificate[],
  nodeIdsOf: (certificate: Uint8Array) => readonly Uint8Array[] = () => [],
): { certificate: Uint8Array; nodeId?: Uint8Array } | undefined {
  for (const { type, certificate } of certificates) {
    if (type !== CertificateType.X509) continue;
    if (identity.type === 'cert_hash' && identityNames(identity, certificate)) return { certificate };
    if (identity.type === 'cert_hash_node_id') {
      for (const nodeId of nodeIdsOf(certificate)) {
        if (identityNames(identity, certificate, nodeId)) return { certificate, nodeId };
      }
    }
  }
  return undefined;
}
