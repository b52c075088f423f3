/**
 * Moving an identity between machines: the private key as encrypted PKCS#8 (PBES2: PBKDF2 + AES-256-CBC,
 * which OpenSSL reads with `openssl pkey -passin`), followed by the certificate chain, all PEM.
 */
import { createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { bytesEqual } from '../wire';

export class IdentityFileError extends Error {
  constructor(
    readonly reason: 'no-key' | 'no-certificate' | 'passphrase' | 'key-mismatch' | 'weak-passphrase',
    message: string,
  ) {
    super(message);
    this.name = 'IdentityFileError';
  }
}

const pemBlock = (label: string, der: Uint8Array) =>
  `-----BEGIN ${label}-----\n${Buffer.from(der)
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n$/, '')}\n-----END ${label}-----\n`;

export function exportIdentity(privateKey: KeyObject, chain: readonly Uint8Array[], passphrase: string): string {
  if (passphrase.length < 8)
    throw new IdentityFileError('weak-passphrase', 'passphrase: must be at least 8 characters');
  if (chain.length === 0) throw new IdentityFileError('no-certificate', 'an identity file needs its certificate');
  const key = privateKey.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase }) as string;
  return key + chain.map((c) => pemBlock('CERTIFICATE', c)).join('');
}

export function importIdentity(text: string, passphrase: string): { privateKey: KeyObject; chain: Uint8Array[] } {
  const keyPem = /-----BEGIN ENCRYPTED PRIVATE KEY-----[\s\S]*?-----END ENCRYPTED PRIVATE KEY-----/.exec(text)?.[0];
  if (!keyPem)
    throw new IdentityFileError(
      'no-key',
      'the file holds no ENCRYPTED PRIVATE KEY block (unencrypted keys are refused)',
    );
  const chain = [...text.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)].map(
    (m) => new Uint8Array(Buffer.from((m[1] ?? '').replace(/\s+/g, ''), 'base64')),
  );
  if (chain.length === 0) throw new IdentityFileError('no-certificate', 'the file holds no CERTIFICATE block');
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: keyPem, format: 'pem', passphrase });
  } catch {
    throw new IdentityFileError('passphrase', 'passphrase: wrong passphrase, or the key is damaged');
  }
  const fromKey = new Uint8Array(createPublicKey(privateKey).export({ format: 'der', type: 'spki' }));
  let fromCert: Uint8Array;
  try {
    fromCert = new Uint8Array(
      new X509Certificate(chain[0] as Uint8Array).publicKey.export({ format: 'der', type: 'spki' }),
    );
  } catch {
    throw new IdentityFileError('no-certificate', 'the first CERTIFICATE block is not an X.509 certificate');
  }
  if (!bytesEqual(fromKey, fromCert))
    throw new IdentityFileError('key-mismatch', 'the private key does not belong to the first certificate');
  return { privateKey, chain };
}
