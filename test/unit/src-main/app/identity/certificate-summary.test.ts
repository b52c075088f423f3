/** What Settings → Identity shows of a certificate, from a real self-signed RSA and ECDSA identity. */
import { describe, expect, it } from 'vitest';
import * as v from 'valibot';
import { summarizeCertificate } from '../../../../../src-main/app/identity/certificate-summary';
import { createSelfSignedIdentity, generateIdentityKeys, toHex } from '../../../../../src-main/reload';
import { CertificateInfoSchema } from '../../../../../src-shared/model/identity';

describe('summarizeCertificate', () => {
  it.each([
    ['ecdsa', 'ECDSA P-256'],
    ['rsa', 'RSA 2048'],
  ] as const)('%s: key algorithm, Node-ID, validity and fingerprint', async (algorithm, name) => {
    const keys = await generateIdentityKeys(algorithm);
    const { der, nodeIds } = await createSelfSignedIdentity(keys, 'alice@o.example', 'o.example', 'sha256', 16, 30);
    const now = new Date(Date.now() + 10 * 86_400_000);
    const info = summarizeCertificate({
      der,
      overlay: 'o.example',
      userName: 'alice@o.example',
      nodeIdLength: 16,
      active: true,
      renewalDue: new Date(0),
      lastError: null,
      now,
    });
    expect(v.safeParse(CertificateInfoSchema, info).success).toBe(true);
    expect(info).toMatchObject({
      id: 'o.example/alice@o.example',
      keyAlgorithm: name,
      selfSigned: true,
      issuer: 'self-signed',
      nodeIds: nodeIds.map(toHex),
      daysLeft: 19,
    });
  });
});
