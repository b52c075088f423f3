/**
 * Moving an identity between machines: the private key as encrypted PKCS#8 (PBES2: PBKDF2-HMAC-SHA256 at
 * 600,000 iterations + AES-256-CBC, see encrypted-key.ts; OpenSSL reads it with `openssl pkey -passin`),
 * followed by the certificate chain, all PEM. Files of the old, cheaper encryption are still read and say
 * so (`outdated`), so that whoever holds the file can rewrite it.
 */
import { createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { bytesEqual } from '../wire';
import { decryptPrivateKey, encryptPrivateKey, isCurrentEncryption, type KeyEncryption } from './encrypted-key';
import { IdentityFileError } from './errors';

export interface ImportedIdentity {
  privateKey: KeyObject;
  chain: Uint8Array[];
  /** How the file's key was encrypted. */
  encryption: KeyEncryption;
  /** True when that is below today's cost: write the file again with exportIdentity. */
  outdated: boolean;
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
  const pkcs8 = new Uint8Array(privateKey.export({ format: 'der', type: 'pkcs8' }));
  const key = pemBlock('ENCRYPTED PRIVATE KEY', encryptPrivateKey(pkcs8, passphrase));
  return key + chain.map((c) => pemBlock('CERTIFICATE', c)).join('');
}

export function importIdentity(text: string, passphrase: string): ImportedIdentity {
  const keyBase64 = /-----BEGIN ENCRYPTED PRIVATE KEY-----([\s\S]*?)-----END ENCRYPTED PRIVATE KEY-----/.exec(
    text,
  )?.[1];
  if (keyBase64 === undefined)
    throw new IdentityFileError(
      'no-key',
      'the file holds no ENCRYPTED PRIVATE KEY block (unencrypted keys are refused)',
    );
  const chain = [...text.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)].map(
    (m) => new Uint8Array(Buffer.from((m[1] ?? '').replace(/\s+/g, ''), 'base64')),
  );
  if (chain.length === 0) throw new IdentityFileError('no-certificate', 'the file holds no CERTIFICATE block');
  const encrypted = new Uint8Array(Buffer.from(keyBase64.replace(/\s+/g, ''), 'base64'));
  const { pkcs8, encryption } = decryptPrivateKey(encrypted, passphrase);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' });
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
  return { privateKey, chain, encryption, outdated: !isCurrentEncryption(encryption) };
}
