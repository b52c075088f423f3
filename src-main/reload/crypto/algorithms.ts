/**
 * Signature algorithms RELOAD messages and stored data may use (TLS 1.2 SignatureAndHashAlgorithm code
 * points): RSASSA-PKCS1-v1_5 with SHA-256 (mandatory), ECDSA P-256 with SHA-256, and SHA-1 variants that
 * are verified for legacy peers but never chosen for signing.
 */
import type { KeyObject } from 'node:crypto';
import { HashAlgorithm, SignatureAlgorithm, type SignatureAndHashAlgorithm } from '../wire';

export type NodeHashName = 'sha1' | 'sha256' | 'sha384' | 'sha512';

const HASH_NAMES = new Map<number, NodeHashName>([
  [HashAlgorithm.sha1, 'sha1'],
  [HashAlgorithm.sha256, 'sha256'],
  [HashAlgorithm.sha384, 'sha384'],
  [HashAlgorithm.sha512, 'sha512'],
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

/** What a key of this type signs with; SHA-256 always. */
export function signingAlgorithmFor(key: KeyObject): SignatureAndHashAlgorithm {
  if (key.asymmetricKeyType === 'rsa') return { hash: HashAlgorithm.sha256, signature: SignatureAlgorithm.rsa };
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') {
    return { hash: HashAlgorithm.sha256, signature: SignatureAlgorithm.ecdsa };
  }
  throw new UnsupportedAlgorithmError(
    `keys of type ${key.asymmetricKeyType ?? '?'}${key.asymmetricKeyDetails?.namedCurve ? ` (${key.asymmetricKeyDetails.namedCurve})` : ''} cannot sign RELOAD messages; use RSA or ECDSA P-256`,
  );
}

/** Whether `key` can check a signature made with `algorithm` (hash supported, key type matching). */
export function keyMatches(algorithm: SignatureAndHashAlgorithm, key: KeyObject): boolean {
  if (!HASH_NAMES.has(algorithm.hash)) return false;
  if (algorithm.signature === SignatureAlgorithm.rsa) return key.asymmetricKeyType === 'rsa';
  if (algorithm.signature === SignatureAlgorithm.ecdsa) {
    return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1';
  }
  return false;
}
