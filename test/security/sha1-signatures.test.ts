/**
 * RELOAD-level signatures (configuration, kind, message and stored-data signatures all go through
 * verifySignature) made with SHA-1 are refused, even by a properly certified signer: chosen-prefix SHA-1
 * collisions are practical. An outside review had a configuration and its kind-blocks signed with ECDSA-SHA1
 * accepted.
 */
import { sign as cryptoSign } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  acceptConfigurationDocument,
  ConfigurationError,
  configurationDocument,
  signedConfiguration,
  signText,
} from '../../src-main/reload/config';
import { createSigner, type Signer } from '../../src-main/reload/crypto';
import { generateIdentityKeys, issueCertificate } from '../../src-main/reload/identity';
import { HashAlgorithm } from '../../src-main/reload/wire';
import { makeOverlay, OVERLAY } from '../support/overlay-fixture';

describe('SHA-1 signatures', () => {
  let fixture: Awaited<ReturnType<typeof makeOverlay>>;
  let good: Signer;
  let sha1: Signer;
  let nodeId: Uint8Array;

  beforeAll(async () => {
    fixture = await makeOverlay();
    const keys = await generateIdentityKeys('ecdsa');
    nodeId = Uint8Array.from({ length: 16 }, (_, i) => 0x50 + i);
    const { der } = await issueCertificate({
      ca: fixture.ca,
      publicKey: keys.webcrypto.publicKey,
      userName: `cfg@${OVERLAY}`,
      nodeIds: [nodeId],
      overlay: OVERLAY,
      validDays: 30,
    });
    good = createSigner({ privateKey: keys.privateKey, certificate: der });
    sha1 = {
      ...good,
      algorithm: { ...good.algorithm, hash: HashAlgorithm.sha1 },
      sign: (input: Uint8Array) => new Uint8Array(cryptoSign('sha1', input, keys.privateKey)),
    };
  });

  const documentSignedBy = (signer: Signer) => {
    const input = { ...fixture.input, configurationSigners: [nodeId], kindSigners: [nodeId] };
    const { xml } = signedConfiguration(input, signer, signer);
    return configurationDocument([{ xml, signature: signText(xml, signer) }]);
  };

  it('a configuration signed with SHA-256 by the signer is accepted (control)', () => {
    expect(acceptConfigurationDocument(documentSignedBy(good), { overlayName: OVERLAY }).sequence).toBeGreaterThan(0);
  });

  it('the same configuration and kind-blocks signed with ECDSA-SHA1 are refused', () => {
    expect(() => acceptConfigurationDocument(documentSignedBy(sha1), { overlayName: OVERLAY })).toThrow(
      ConfigurationError,
    );
  });
});
