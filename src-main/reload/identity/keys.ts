/**
 * Identity key pairs: RSA-2048 (RSASSA-PKCS1-v1_5, RELOAD's mandatory algorithm) or ECDSA P-256, both
 * with SHA-256. Generated with WebCrypto so @peculiar/x509 can use them; Node KeyObjects for signing.
 */
import { createPublicKey, KeyObject, type webcrypto } from 'node:crypto';
import { KeyFormatError } from './errors';
import { subtle } from './x509';

export type KeyAlgorithm = 'rsa' | 'ecdsa';

export const SIGNING_ALGORITHMS = {
  rsa: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 },
  ecdsa: { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' },
} as const;

export interface IdentityKeys {
  algorithm: KeyAlgorithm;
  webcrypto: webcrypto.CryptoKeyPair;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export async function generateIdentityKeys(algorithm: KeyAlgorithm): Promise<IdentityKeys> {
  const pair = (await subtle.generateKey(SIGNING_ALGORITHMS[algorithm], true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  return fromWebCrypto(algorithm, pair);
}

export function fromWebCrypto(algorithm: KeyAlgorithm, pair: webcrypto.CryptoKeyPair): IdentityKeys {
  return {
    algorithm,
    webcrypto: pair,
    privateKey: KeyObject.from(pair.privateKey as Parameters<typeof KeyObject.from>[0]),
    publicKey: KeyObject.from(pair.publicKey as Parameters<typeof KeyObject.from>[0]),
  };
}

/** From a Node private key (e.g. read from the keychain as PKCS#8) back to a pair usable by x509. */
export async function fromPrivateKey(privateKey: KeyObject): Promise<IdentityKeys> {
  const algorithm: KeyAlgorithm | undefined =
    privateKey.asymmetricKeyType === 'rsa' ? 'rsa' : privateKey.asymmetricKeyType === 'ec' ? 'ecdsa' : undefined;
  if (!algorithm)
    throw new KeyFormatError(`identity keys must be RSA or ECDSA P-256, not ${privateKey.asymmetricKeyType ?? '?'}`);
  const params = SIGNING_ALGORITHMS[algorithm];
  const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });
  const publicKey = createPublicKey(privateKey);
  const pair = {
    privateKey: await subtle.importKey('pkcs8', pkcs8, params, true, ['sign']),
    publicKey: await subtle.importKey('spki', publicKey.export({ format: 'der', type: 'spki' }), params, true, [
      'verify',
    ]),
  } as webcrypto.CryptoKeyPair;
  return { algorithm, webcrypto: pair, privateKey, publicKey };
}
