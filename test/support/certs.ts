/**
 * Test identities: a key pair and a self-signed certificate carrying Node-IDs as reload:// URIs, made with
 * @peculiar/x509 over Node's WebCrypto (the same library the identity layer uses).
 */
import 'reflect-metadata';
import { KeyObject, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { nodeIdUri } from '../../src-main/reload/wire';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export type KeyKind = 'rsa' | 'ecdsa';

export interface TestIdentity {
  privateKey: KeyObject;
  publicKey: KeyObject;
  certificate: Uint8Array;
  nodeIds: Uint8Array[];
}

const ALGORITHMS = {
  rsa: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 },
  ecdsa: { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' },
} as const;

export async function makeIdentity(
  kind: KeyKind,
  nodeIds: Uint8Array[],
  user = 'alice@example.org',
): Promise<TestIdentity> {
  const algorithm = ALGORITHMS[kind];
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=test',
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    signingAlgorithm: algorithm,
    keys,
    extensions: [
      new x509.SubjectAlternativeNameExtension([
        { type: 'email', value: user },
        ...nodeIds.map((id) => ({ type: 'url' as const, value: nodeIdUri(id, 'overlay.example.org', id.length) })),
      ]),
    ],
  });
  return {
    privateKey: KeyObject.from(keys.privateKey),
    publicKey: KeyObject.from(keys.publicKey),
    certificate: new Uint8Array(cert.rawData),
    nodeIds,
  };
}

export function nodeIdOf(seed: number): Uint8Array {
  return Uint8Array.from({ length: 16 }, (_, i) => (seed * 31 + i * 7) & 0xff);
}
