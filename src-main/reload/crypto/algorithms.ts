/**
 * Signature algorithms RELOAD messages and stored data may use (TLS 1.2 SignatureAndHashAlgorithm code
 * points): RSASSA-PKCS1-v1_5 with SHA-256 (mandatory), ECDSA P-256 with SHA-256, and SHA-384/512 variants.
 * SHA-1 signatures are refused (chosen-prefix collisions are practical; an outside review showed a
 * configuration signed with ECDSA-SHA1 being accepted). SHA-1 still names certificates in a SignerIdentity
 * (cert_hash), where it is a lookup key, not a signature.
 */
import type { KeyObject } from 'node:crypto';
import { keyWeakness } from '../identity/key-strength';
import { HashAlgorithm, SignatureAlgorithm, type SignatureAndHashAlgorithm } from '../wire';

export type NodeHashName = 'sha1' | 'sha256' | 'sha384' | 'sha512';

const HASH_NAMES = new Map<number, NodeHashName>([
  [HashAlgorithm.sha1, 'sha1'],
  [HashAlgorithm.sha256, 'sha256'],
  [HashAlgorithm.sha384, 'sha384'],
  [HashAlgorithm.sha512, 'sha512'],
]);

/** Hashes a signature may use: never SHA-1 (see above). */
const SIGNATURE_HASHES: ReadonlySet<number> = new Set([
  HashAlgorithm.sha256,
  HashAlgorithm.sha384,
  HashAlgorithm.sha512,
]);

export class UnsupportedAlgorithmError extends Error {
  constructor(what: string) {
    super(what);
    this.name = 'UnsupportedAlgorithmError';
  }
}

export function hashName(code: number): NodeHashName {
  const name = HASH_NAMES.get(code);
  if (!name) throw new UnsupportedAlgorithmError(`hash algorithm ${code} is not supported`);
  return name;
}

export function hashCode(name: NodeHashName): number {
  return HashAlgorithm[name];
}

/** What a key of this type signs with; SHA-256 always. Keys key-strength.ts refuses never sign. */
export function signingAlgorithmFor(key: KeyObject): SignatureAndHashAlgorithm {
  const weak = keyWeakness(key);
  if (weak) throw new UnsupportedAlgorithmError(`this key cannot sign RELOAD messages: ${weak.message}`);
  return key.asymmetricKeyType === 'rsa'
    ? { hash: HashAlgorithm.sha256, signature: SignatureAlgorithm.rsa }
    : { hash: HashAlgorithm.sha256, signature: SignatureAlgorithm.ecdsa };
}

/**
 * Whether `key` can check a signature made with `algorithm`: hash supported, key type matching, and the key
 * as strong as key-strength.ts demands (the trust policy refused its certificate already; this holds for
 * any key a caller passes in).
 */
export function keyMatches(algorithm: SignatureAndHashAlgorithm, key: KeyObject): boolean {
  if (!SIGNATURE_HASHES.has(algorithm.hash) || keyWeakness(key)) return false;
  if (algorithm.signature === SignatureAlgorithm.rsa) return key.asymmetricKeyType === 'rsa';
  if (algorithm.signature === SignatureAlgorithm.ecdsa) return key.asymmetricKeyType === 'ec';
  return false;
}
