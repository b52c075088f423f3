/**
 * The one rule for how strong a key and a signature algorithm must be, used by the CA (CSRs, issuance),
 * the trust policy (every certificate: links, message and data signatures, configuration and kind signers)
 * and the signature code (a key that signs or verifies). The configuration names no curves or algorithms,
 * so the set is fixed here (docs/decisions.md):
 *  - RSA (rsaEncryption keys, RSASSA-PKCS1-v1_5 as RELOAD signs) with a modulus of at least 2048 bits and
 *    the public exponent 65537;
 *  - ECDSA on P-256 only: the one curve RELOAD's signature code signs and verifies with;
 *  - certificate and CSR signatures with SHA-256, SHA-384 or SHA-512 (never SHA-1 or MD5).
 */
import type { KeyObject } from 'node:crypto';
import { derElement, derOid, DER } from './der';

export const MIN_RSA_MODULUS_BITS = 2048;
export const RSA_PUBLIC_EXPONENT = 65537n;
/** Node's (OpenSSL's) names of the allowed curves, with the names people know them by. */
export const ALLOWED_CURVES: ReadonlyMap<string, string> = new Map([['prime256v1', 'P-256']]);

/** Which property of a key or signature is too weak. */
export type StrengthField =
  'key-type' | 'rsa-modulus-bits' | 'rsa-public-exponent' | 'ec-curve' | 'signature-algorithm';

export interface Weakness {
  field: StrengthField;
  message: string;
}

/** Certificate and CSR signature algorithms accepted (OID -> name). */
const STRONG_SIGNATURES: ReadonlyMap<string, string> = new Map([
  ['1.2.840.113549.1.1.11', 'sha256WithRSAEncryption'],
  ['1.2.840.113549.1.1.12', 'sha384WithRSAEncryption'],
  ['1.2.840.113549.1.1.13', 'sha512WithRSAEncryption'],
  ['1.2.840.10045.4.3.2', 'ecdsa-with-SHA256'],
  ['1.2.840.10045.4.3.3', 'ecdsa-with-SHA384'],
  ['1.2.840.10045.4.3.4', 'ecdsa-with-SHA512'],
]);

/** Names of some refused ones (weak, or not what RELOAD signs with), so that the error says what it found. */
const REFUSED_SIGNATURES: ReadonlyMap<string, string> = new Map([
  ['1.2.840.113549.1.1.2', 'md2WithRSAEncryption'],
  ['1.2.840.113549.1.1.4', 'md5WithRSAEncryption'],
  ['1.2.840.113549.1.1.5', 'sha1WithRSAEncryption'],
  ['1.3.14.3.2.29', 'sha1WithRSASignature'],
  ['1.2.840.10045.4.1', 'ecdsa-with-SHA1'],
  ['1.2.840.10040.4.3', 'dsa-with-SHA1'],
  ['1.2.840.113549.1.1.14', 'sha224WithRSAEncryption'],
  ['1.2.840.10045.4.3.1', 'ecdsa-with-SHA224'],
  ['1.2.840.113549.1.1.10', 'RSASSA-PSS'],
  ['1.3.101.112', 'Ed25519'],
]);

/** Undefined when `key` (public or private) is strong enough; else what is wrong with it. */
export function keyWeakness(key: KeyObject): Weakness | undefined {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa') {
    const bits = details.modulusLength ?? 0;
    if (bits < MIN_RSA_MODULUS_BITS)
      return {
        field: 'rsa-modulus-bits',
        message: `RSA modulus of ${bits} bits; at least ${MIN_RSA_MODULUS_BITS} needed`,
      };
    if (details.publicExponent !== RSA_PUBLIC_EXPONENT)
      return {
        field: 'rsa-public-exponent',
        message: `RSA public exponent ${details.publicExponent ?? '?'}; only ${RSA_PUBLIC_EXPONENT} is accepted`,
      };
    return undefined;
  }
  if (key.asymmetricKeyType === 'ec') {
    const curve = details.namedCurve ?? 'an unnamed curve';
    if (!ALLOWED_CURVES.has(curve))
      return {
        field: 'ec-curve',
        message: `ECDSA key on ${curve}; only ${[...ALLOWED_CURVES.values()].join(', ')} is accepted`,
      };
    return undefined;
  }
  return {
    field: 'key-type',
    message: `${key.asymmetricKeyType ?? 'unknown'} keys are not accepted; use RSA (2048 bits or more) or ECDSA P-256`,
  };
}

/**
 * Undefined when the outer signature of a certificate or a PKCS#10 request (both SEQUENCE { body,
 * AlgorithmIdentifier, BIT STRING }) uses an accepted algorithm; else what it uses.
 */
export function signatureAlgorithmWeakness(signed: Uint8Array): Weakness | undefined {
  let oid: string;
  try {
    const outer = derElement(signed, 0, signed.length);
    const body = derElement(signed, outer.start, outer.end);
    const algorithm = derElement(signed, body.end, outer.end);
    if (outer.tag !== DER.SEQUENCE || algorithm.tag !== DER.SEQUENCE) throw new Error('not a signed structure');
    oid = derOid(signed, derElement(signed, algorithm.start, algorithm.end));
  } catch (error) {
    return { field: 'signature-algorithm', message: `no readable signature algorithm: ${(error as Error).message}` };
  }
  if (STRONG_SIGNATURES.has(oid)) return undefined;
  return {
    field: 'signature-algorithm',
    message: `signed with ${REFUSED_SIGNATURES.get(oid) ?? oid}; only ${[...STRONG_SIGNATURES.values()].join(', ')} are accepted`,
  };
}
