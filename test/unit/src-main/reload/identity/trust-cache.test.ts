/**
 * The trust policy's cache of accepted certificates, and the DER subjectAltName reader behind
 * readCertificate: a cached success never outlives what the full judgement would say.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  createCertificateAuthority,
  createCsr,
  createSelfSignedIdentity,
  generateIdentityKeys,
  issueCertificate,
  readCertificate,
  readCsr,
  TrustPolicy,
  type CertificateAuthority,
} from '../../../../../src-main/reload/identity';
import { subjectAltNames } from '../../../../../src-main/reload/identity/certificate-info';
import { x509 } from '../../../../../src-main/reload/identity/x509';

const OVERLAY = 'overlay.example.org';
const DAY = 86_400_000;
const node = (seed: number) => Uint8Array.from({ length: 16 }, (_, i) => (seed + i * 13) & 0xff);
let ca: CertificateAuthority;

beforeAll(async () => {
  ca = await createCertificateAuthority(await generateIdentityKeys('ecdsa'), OVERLAY, 3650);
});

async function enrolled(userName = 'alice@example.org', nodeIds = [node(1)], validDays = 30, authority = ca) {
  const keys = await generateIdentityKeys('ecdsa');
  const csr = await readCsr(await createCsr(keys, userName));
  return issueCertificate({ ca: authority, publicKey: csr.publicKey, userName, nodeIds, overlay: OVERLAY, validDays });
}

const policy = (extra: Partial<ConstructorParameters<typeof TrustPolicy>[0]> = {}) =>
  new TrustPolicy({ overlay: OVERLAY, nodeIdLength: 16, rootCerts: [ca.certificate], badNodes: [], ...extra });

describe('accepted-certificate cache', () => {
  it('an expired or not yet valid certificate is refused after a cached success', async () => {
    const { der } = await enrolled();
    const p = policy();
    const first = p.validate(der);
    expect(p.validate(der)).toBe(first); // a hit
    expect(() => p.validate(der, new Date(Date.now() + 40 * DAY))).toThrow(
      expect.objectContaining({ reason: 'expired' }),
    );
    expect(() => p.validate(der, new Date(Date.now() - DAY))).toThrow(
      expect.objectContaining({ reason: 'not-yet-valid' }),
    );
    expect(p.validate(der).nodeIds).toEqual(first.nodeIds); // and fine again now
  });

  it('a leaf that outlives its root-cert is refused once the root has expired', async () => {
    const shortCa = await createCertificateAuthority(await generateIdentityKeys('ecdsa'), OVERLAY, 1);
    const { der } = await enrolled('bob@example.org', [node(2)], 30, shortCa);
    const p = policy({ rootCerts: [shortCa.certificate] });
    p.validate(der);
    expect(() => p.validate(der, new Date(Date.now() + 2 * DAY))).toThrow(
      expect.objectContaining({ reason: 'untrusted-issuer' }),
    );
  });

  it('what one policy accepted, another that does not trust it refuses', async () => {
    const { der } = await enrolled();
    policy().validate(der);
    const otherCa = await createCertificateAuthority(await generateIdentityKeys('ecdsa'), 'evil.example', 30);
    expect(() => policy({ rootCerts: [otherCa.certificate] }).validate(der)).toThrow(
      expect.objectContaining({ reason: 'untrusted-issuer' }),
    );
    expect(() => policy({ badNodes: [node(1)] }).validate(der)).toThrow(
      expect.objectContaining({ reason: 'bad-node' }),
    );
  });

  it('a certificate altered after a cached success is judged afresh (and refused)', async () => {
    const { der } = await enrolled();
    const p = policy();
    p.validate(der);
    const tampered = der.slice();
    tampered[tampered.length - 5]! ^= 0x01; // inside the signature
    expect(() => p.validate(tampered)).toThrow(expect.objectContaining({ reason: 'bad-signature' }));
  });
});

describe('subjectAltName from the DER', () => {
  it('reads the same URIs and user names as @peculiar/x509', async () => {
    const keys = await generateIdentityKeys('rsa');
    const certs = [
      (await enrolled('a,b"c\\d@example.org', [node(3), node(4), node(5)])).der,
      (await createSelfSignedIdentity(keys, 'carol@example.org', OVERLAY, 'sha256', 16, 30, 2)).der,
      ca.certificate,
    ];
    for (const der of certs) {
      const names = new x509.X509Certificate(der).getExtension(x509.SubjectAlternativeNameExtension)?.names.toJSON();
      const info = readCertificate(der, OVERLAY);
      expect(info.uris).toEqual((names ?? []).filter((n) => n.type === 'url').map((n) => n.value));
      expect(info.userNames).toEqual((names ?? []).filter((n) => n.type === 'email').map((n) => n.value));
      const parsed = new x509.X509Certificate(der);
      expect(info.notBefore.getTime()).toBe(parsed.notBefore.getTime());
      expect(info.notAfter.getTime()).toBe(parsed.notAfter.getTime());
      expect(info.serialNumber).toBe(parsed.serialNumber);
    }
  });

  it('refuses malformed structure', async () => {
    const { der } = await enrolled();
    expect(() => subjectAltNames(der.subarray(0, der.length - 40))).toThrow();
    expect(() => subjectAltNames(Uint8Array.of(0x30, 0x83, 0xff, 0xff, 0xff))).toThrow();
    expect(() => readCertificate(Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x01), OVERLAY)).toThrow(
      expect.objectContaining({ reason: 'unparseable' }),
    );
  });
});
