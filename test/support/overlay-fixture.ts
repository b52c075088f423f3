/** A complete test overlay: CA, a signer identity issued by it, and a signed configuration document. */
import { createSigner, type Signer } from '../../src-main/reload/crypto';
import { defaultConfiguration, defaultKinds, type NewConfiguration } from '../../src-main/reload/config';
import {
  createCertificateAuthority,
  generateIdentityKeys,
  issueCertificate,
  type CertificateAuthority,
  type KeyAlgorithm,
} from '../../src-main/reload/identity';

export const OVERLAY = 'overlay.example.org';

export interface TestOverlay {
  ca: CertificateAuthority;
  signer: Signer;
  signerNodeId: Uint8Array;
  input: NewConfiguration;
}

export async function makeOverlay(algorithm: KeyAlgorithm = 'ecdsa', overlay = OVERLAY): Promise<TestOverlay> {
  const ca = await createCertificateAuthority(await generateIdentityKeys(algorithm), overlay, 365);
  const keys = await generateIdentityKeys(algorithm);
  const signerNodeId = Uint8Array.from({ length: 16 }, (_, i) => 0xc0 + i);
  const { der } = await issueCertificate({
    ca,
    publicKey: keys.webcrypto.publicKey,
    userName: `admin@${overlay}`,
    nodeIds: [signerNodeId],
    overlay,
    validDays: 30,
  });
  const signer = createSigner({ privateKey: keys.privateKey, certificate: der });
  const base = defaultConfiguration(overlay);
  const input: NewConfiguration = {
    ...base,
    expiration: new Date(Date.now() + 30 * 86_400_000),
    rootCerts: [ca.certificate],
    enrollmentServers: [`https://${overlay}:6084/enroll`],
    selfSignedDigest: 'sha1',
    bootstrapNodes: [
      { address: '127.0.0.1', port: 6084 },
      { address: '::1', port: 7000 },
    ],
    kindSigners: [signerNodeId],
    configurationSigners: [signerNodeId],
    kinds: [
      { ...defaultKinds()[0]!, sipDomainRestriction: { enabled: true, patterns: ['.*@example\\.org'] } },
      ...defaultKinds().slice(1),
    ],
  };
  return { ca, signer, signerNodeId, input };
}

/** Another identity issued by the overlay's CA (user `signer<first>@…`, Node-ID first, first + 1, …). */
export async function overlayIdentity(o: TestOverlay, first: number): Promise<{ signer: Signer; nodeId: Uint8Array }> {
  const keys = await generateIdentityKeys('ecdsa');
  const nodeId = Uint8Array.from({ length: 16 }, (_, i) => first + i);
  const { der } = await issueCertificate({
    ca: o.ca,
    publicKey: keys.webcrypto.publicKey,
    userName: `signer${first}@${OVERLAY}`,
    nodeIds: [nodeId],
    overlay: OVERLAY,
    validDays: 30,
  });
  return { signer: createSigner({ privateKey: keys.privateKey, certificate: der }), nodeId };
}
