/** Message and stored-data signatures: RSA-2048 and ECDSA P-256 (SHA-256), legacy SHA-1, tamper detection. */
import { sign as cryptoSign, X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  createSigner,
  dataSignatureInput,
  findSignerCertificate,
  signMessage,
  signStoredData,
  verifyMessage,
  verifySignature,
  verifyStoredData,
  UnsupportedAlgorithmError,
} from '../../../../../src-main/reload/crypto';
import * as W from '../../../../../src-main/reload/wire';
import { makeIdentity, nodeIdOf, type KeyKind, type TestIdentity } from '../../../../support/certs';

const ctx = W.decodeContext();
const ids: Record<KeyKind, TestIdentity> = {} as never;
let other: TestIdentity;
let multi: TestIdentity;

beforeAll(async () => {
  ids.rsa = await makeIdentity('rsa', [nodeIdOf(1)]);
  ids.ecdsa = await makeIdentity('ecdsa', [nodeIdOf(2)]);
  other = await makeIdentity('ecdsa', [nodeIdOf(3)]);
  multi = await makeIdentity('ecdsa', [nodeIdOf(4), nodeIdOf(5)]);
});

function header(): W.HeaderInput {
  return {
    overlay: 0x9aa32b8d,
    configurationSequence: 1,
    version: 0x0a,
    ttl: 100,
    transactionId: 0xdeadbeefcafef00dn,
    maxResponseLength: 0,
    viaList: [],
    destinationList: [{ type: 'node', id: nodeIdOf(9) }],
    options: [],
  };
}

const contents: W.MessageContents = { code: W.MessageCode.ping_req, body: Uint8Array.of(0, 2, 1, 2), extensions: [] };

describe.each(['rsa', 'ecdsa'] as const)('message signatures with %s', (kind) => {
  it('sign, then verify at the destination with the certificate from the security block', () => {
    const id = ids[kind];
    const signer = createSigner({ privateKey: id.privateKey, certificate: id.certificate });
    expect(signer.algorithm).toEqual({ hash: 4, signature: kind === 'rsa' ? 1 : 3 });
    const bytes = signMessage(header(), contents, signer, { nodeIdLength: 16 });
    const message = W.decodeMessage(bytes, ctx);
    const found = findSignerCertificate(message.security.signature.identity, message.security.certificates);
    expect(found?.certificate).toEqual(id.certificate);
    expect(verifyMessage(message, new X509Certificate(found!.certificate).publicKey)).toBe(true);
    expect(verifyMessage(message, other.publicKey)).toBe(false);
  });

  it('a flipped bit in any signed byte breaks the signature', () => {
    const id = ids[kind];
    const signer = createSigner({ privateKey: id.privateKey, certificate: id.certificate });
    const bytes = signMessage(header(), contents, signer, { nodeIdLength: 16 });
    const clean = W.decodeMessage(bytes, ctx);
    const signedOffsets = [
      4,
      5,
      6,
      7, // overlay
      ...Array.from({ length: 8 }, (_, i) => 20 + i), // transaction_id
      ...Array.from(
        { length: clean.signed.contents.length },
        (_, i) => clean.signed.contents.byteOffset - bytes.byteOffset + i,
      ),
      ...Array.from(
        { length: clean.signed.signerIdentity.length },
        (_, i) => clean.signed.signerIdentity.byteOffset - bytes.byteOffset + i,
      ),
    ];
    let checked = 0;
    for (const at of signedOffsets) {
      const copy = bytes.slice();
      copy[at] = (copy[at] as number) ^ 0x01;
      let message: W.DecodedMessage;
      try {
        message = W.decodeMessage(copy, ctx);
      } catch {
        continue; // the flip broke the structure itself: never reaches verification
      }
      expect(verifyMessage(message, id.publicKey), `offset ${at}`).toBe(false);
      checked++;
    }
    expect(checked).toBeGreaterThan(signedOffsets.length / 2);
    // Bytes outside the signature's coverage (TTL, via list) may change hop by hop.
    const ttlChanged = bytes.slice();
    ttlChanged[11] = 3;
    expect(verifyMessage(W.decodeMessage(ttlChanged, ctx), id.publicKey)).toBe(true);
  });
});

describe('stored-data signatures', () => {
  const resource = Uint8Array.from({ length: 16 }, (_, i) => i);
  const value: W.StoredDataValue = {
    model: 'dictionary',
    key: nodeIdOf(2),
    value: { exists: true, value: Uint8Array.of(1, 2, 3) },
  };

  it.each(['rsa', 'ecdsa'] as const)('%s: sign and verify; any changed field fails', (kind) => {
    const id = ids[kind];
    const signer = createSigner({ privateKey: id.privateKey, certificate: id.certificate });
    const stored = signStoredData(resource, 1, { storageTime: 1000n, lifetime: 60, value }, signer);
    expect(verifyStoredData(resource, 1, stored, id.publicKey)).toBe(true);
    expect(verifyStoredData(Uint8Array.of(9, ...resource.subarray(1)), 1, stored, id.publicKey)).toBe(false);
    expect(verifyStoredData(resource, 2, stored, id.publicKey)).toBe(false);
    expect(verifyStoredData(resource, 1, { ...stored, storageTime: 1001n }, id.publicKey)).toBe(false);
    expect(verifyStoredData(resource, 1, { ...stored, value: { ...value, key: nodeIdOf(3) } }, id.publicKey)).toBe(
      false,
    );
    expect(
      verifyStoredData(
        resource,
        1,
        { ...stored, value: { ...value, value: { exists: false, value: value.value.value } } },
        id.publicKey,
      ),
    ).toBe(false);
    expect(verifyStoredData(resource, 1, stored, other.publicKey)).toBe(false);
    // The lifetime is not signed: storing peers shorten it when replicating.
    expect(verifyStoredData(resource, 1, { ...stored, lifetime: 5 }, id.publicKey)).toBe(true);
  });

  it('array entries are signed with index 0, so an append still verifies at its final index', () => {
    const signer = createSigner({ privateKey: ids.ecdsa.privateKey, certificate: ids.ecdsa.certificate });
    const appended: W.StoredDataValue = {
      model: 'array',
      index: 0xffffffff,
      value: { exists: true, value: Uint8Array.of(7) },
    };
    const stored = signStoredData(resource, 3, { storageTime: 5n, lifetime: 60, value: appended }, signer);
    expect(verifyStoredData(resource, 3, { ...stored, value: { ...appended, index: 4 } }, ids.ecdsa.publicKey)).toBe(
      true,
    );
  });

  it('signs exactly resource_id (raw) || kind (4 bytes) || storage_time || value || SignerIdentity', () => {
    const identity: W.SignerIdentity = { type: 'cert_hash', hashAlg: 4, hash: Uint8Array.of(0xaa) };
    const input = dataSignatureInput(
      Uint8Array.of(0x10, 0x11),
      1,
      2n,
      { model: 'single', value: { exists: true, value: Uint8Array.of(5) } },
      identity,
    );
    expect(W.toHex(input)).toBe(
      '1011' + '00000001' + '0000000000000002' + '01' + '00000001' + '05' + '01' + '0003' + '04' + '01' + 'aa',
    );
  });
});

describe('signer identities and algorithms', () => {
  it('a certificate with several Node-IDs signs with cert_hash_node_id naming the one it speaks for', () => {
    const [first, second] = multi.nodeIds as [Uint8Array, Uint8Array];
    const signer = createSigner({ privateKey: multi.privateKey, certificate: multi.certificate, multiNodeId: second });
    expect(signer.identity.type).toBe('cert_hash_node_id');
    const bytes = signMessage(header(), contents, signer, { nodeIdLength: 16 });
    const message = W.decodeMessage(bytes, ctx);
    const found = findSignerCertificate(message.security.signature.identity, message.security.certificates, () => [
      first,
      second,
    ]);
    expect(found?.nodeId).toEqual(second);
    expect(
      findSignerCertificate(message.security.signature.identity, message.security.certificates, () => [first]),
    ).toBeUndefined();
    expect(verifyMessage(message, multi.publicKey)).toBe(true);
  });

  it('refuses SHA-1 signatures (a valid one too) and never signs with SHA-1', () => {
    const input = Uint8Array.of(1, 2, 3);
    const value = new Uint8Array(cryptoSign('sha1', input, ids.rsa.privateKey));
    const legacy: W.Signature = { algorithm: { hash: 2, signature: 1 }, identity: { type: 'none' }, value };
    expect(verifySignature(legacy, input, ids.rsa.publicKey)).toBe(false);
    const sha256: W.Signature = {
      ...legacy,
      algorithm: { hash: 4, signature: 1 },
      value: new Uint8Array(cryptoSign('sha256', input, ids.rsa.privateKey)),
    };
    expect(verifySignature(sha256, input, ids.rsa.publicKey)).toBe(true);
    expect(createSigner({ privateKey: ids.rsa.privateKey, certificate: ids.rsa.certificate }).algorithm.hash).toBe(4);
  });

  it('refuses mismatched or unknown algorithms without throwing', () => {
    const signer = createSigner({ privateKey: ids.ecdsa.privateKey, certificate: ids.ecdsa.certificate });
    const input = Uint8Array.of(1);
    const good: W.Signature = { algorithm: signer.algorithm, identity: signer.identity, value: signer.sign(input) };
    expect(verifySignature(good, input, ids.ecdsa.publicKey)).toBe(true);
    expect(verifySignature({ ...good, algorithm: { hash: 4, signature: 1 } }, input, ids.ecdsa.publicKey)).toBe(false);
    expect(verifySignature({ ...good, algorithm: { hash: 1, signature: 3 } }, input, ids.ecdsa.publicKey)).toBe(false);
    expect(verifySignature({ ...good, value: new Uint8Array() }, input, ids.ecdsa.publicKey)).toBe(false);
    expect(verifySignature({ ...good, value: Uint8Array.of(1, 2, 3) }, input, ids.ecdsa.publicKey)).toBe(false);
    expect(verifySignature(W.NO_SIGNATURE, input, ids.ecdsa.publicKey)).toBe(false);
  });

  it('keys that RELOAD cannot sign with are refused with a clear error', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const { privateKey } = generateKeyPairSync('ed25519');
    expect(() => createSigner({ privateKey, certificate: ids.rsa.certificate })).toThrow(UnsupportedAlgorithmError);
  });
});
