/** Certificates: issuance from a CSR, and the trust policy every layer uses. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CertificateRejectedError,
  createCertificateAuthority,
  createCsr,
  createSelfSignedIdentity,
  CsrRejectedError,
  generateIdentityKeys,
  issueCertificate,
  readCsr,
  selfSignedNodeIds,
  TrustPolicy,
  type CertificateAuthority,
  type KeyAlgorithm,
} from '../../../../../src-main/reload/identity';
import { toHex } from '../../../../../src-main/reload/wire';

const OVERLAY = 'overlay.example.org';
const node = (seed: number) => Uint8Array.from({ length: 16 }, (_, i) => (seed + i * 13) & 0xff);
let ca: CertificateAuthority;
let otherCa: CertificateAuthority;

beforeAll(async () => {
  ca = await createCertificateAuthority(await generateIdentityKeys('ecdsa'), OVERLAY, 3650);
  otherCa = await createCertificateAuthority(await generateIdentityKeys('ecdsa'), 'evil.example', 3650);
});

async function enrolled(algorithm: KeyAlgorithm, nodeIds = [node(1)], validDays = 30, authority = ca) {
  const keys = await generateIdentityKeys(algorithm);
  const csr = await readCsr(await createCsr(keys, 'alice@example.org'));
  const issued = await issueCertificate({
    ca: authority,
    publicKey: csr.publicKey,
    userName: csr.userNames[0]!,
    nodeIds,
    overlay: OVERLAY,
    validDays,
  });
  return { keys, ...issued };
}

const policy = (extra: Partial<ConstructorParameters<typeof TrustPolicy>[0]> = {}) =>
  new TrustPolicy({ overlay: OVERLAY, nodeIdLength: 16, rootCerts: [ca.certificate], badNodes: [], ...extra });

describe.each(['rsa', 'ecdsa'] as const)('CA-issued %s identities', (algorithm) => {
  it('chain to the root and carry their Node-IDs and user name', async () => {
    const { der } = await enrolled(algorithm, [node(1), node(2)]);
    const identity = policy().validate(der);
    expect(identity.nodeIds.map(toHex)).toEqual([toHex(node(1)), toHex(node(2))]);
    expect(identity.userName).toBe('alice@example.org');
    expect(identity.selfSigned).toBe(false);
    expect(identity.certificate.subjectEmpty).toBe(true);
  });

  it('openssl reads the SANs and the empty subject', async () => {
    const { der } = await enrolled(algorithm);
    const dir = mkdtempSync(join(tmpdir(), 'cert-'));
    writeFileSync(join(dir, 'c.der'), der);
    const text = execFileSync('openssl', [
      'x509',
      '-inform',
      'der',
      '-in',
      join(dir, 'c.der'),
      '-noout',
      '-text',
    ]).toString();
    expect(text).toContain(`URI:reload://0110${toHex(node(1))}@${OVERLAY}/`);
    expect(text).toContain('email:alice@example.org');
    expect(text).toMatch(/Subject:\s*\n/);
  });
});

describe('trust policy refusals', () => {
  it('another CA, an expired certificate, a bad-node', async () => {
    const foreign = await enrolled('ecdsa', [node(1)], 30, otherCa);
    expect(() => policy().validate(foreign.der)).toThrow(expect.objectContaining({ reason: 'untrusted-issuer' }));
    const { der } = await enrolled('ecdsa');
    expect(() => policy().validate(der, new Date(Date.now() + 40 * 86_400_000))).toThrow(
      expect.objectContaining({ reason: 'expired' }),
    );
    expect(() => policy().validate(der, new Date(Date.now() - 86_400_000))).toThrow(
      expect.objectContaining({ reason: 'not-yet-valid' }),
    );
    expect(() => policy({ badNodes: [node(1)] }).validate(der)).toThrow(
      expect.objectContaining({ reason: 'bad-node' }),
    );
    expect(() => policy().validate(Uint8Array.of(1, 2, 3))).toThrow(CertificateRejectedError);
  });

  it('a certificate for another overlay carries no Node-ID here', async () => {
    const { der } = await enrolled('ecdsa');
    expect(() =>
      new TrustPolicy({
        overlay: 'other.example',
        nodeIdLength: 16,
        rootCerts: [ca.certificate],
        badNodes: [],
      }).validate(der),
    ).toThrow(expect.objectContaining({ reason: 'no-node-id' }));
  });

  it('roots must be CAs', async () => {
    const { der } = await enrolled('ecdsa');
    expect(() => policy({ rootCerts: [der] })).toThrow(expect.objectContaining({ reason: 'not-a-ca' }));
  });
});

describe('self-signed identities', () => {
  it.each(['sha1', 'sha256'] as const)(
    'derive the Node-ID from the key with %s and are accepted only when permitted',
    async (digest) => {
      const keys = await generateIdentityKeys('ecdsa');
      const self = await createSelfSignedIdentity(keys, 'bob@example.org', OVERLAY, digest, 16, 30);
      const spki = new Uint8Array(keys.publicKey.export({ format: 'der', type: 'spki' }));
      expect(self.nodeIds).toEqual(selfSignedNodeIds(spki, digest, 16));
      expect(policy({ selfSigned: { digest } }).validate(self.der).selfSigned).toBe(true);
      expect(() => policy().validate(self.der)).toThrow(
        expect.objectContaining({ reason: 'self-signed-not-permitted' }),
      );
      const wrongDigest = digest === 'sha1' ? 'sha256' : 'sha1';
      expect(() => policy({ selfSigned: { digest: wrongDigest } }).validate(self.der)).toThrow(
        expect.objectContaining({ reason: 'node-id-mismatch' }),
      );
    },
  );

  it('several Node-IDs: digest(uint32 j || SPKI) for j = 1..n', async () => {
    const keys = await generateIdentityKeys('rsa');
    const self = await createSelfSignedIdentity(keys, 'carol@example.org', OVERLAY, 'sha256', 16, 30, 3);
    expect(self.nodeIds).toHaveLength(3);
    expect(policy({ selfSigned: { digest: 'sha256' } }).validate(self.der).nodeIds).toEqual(self.nodeIds);
  });
});

describe('CSRs', () => {
  it('carry the key and the user name; a tampered CSR is refused', async () => {
    const keys = await generateIdentityKeys('rsa');
    const der = await createCsr(keys, 'dave@example.org');
    const info = await readCsr(der);
    expect(info.userNames).toEqual(['dave@example.org']);
    expect(info.algorithm).toBe('rsa');
    const tampered = der.slice();
    tampered[tampered.length - 5] = (tampered[tampered.length - 5] as number) ^ 0xff;
    await expect(readCsr(tampered)).rejects.toBeInstanceOf(CsrRejectedError);
    await expect(readCsr(Uint8Array.of(0x30, 0x00))).rejects.toMatchObject({ reason: 'unparseable' });
  });
});
