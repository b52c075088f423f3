/** Finding a value's signer among the certificates of a security block, judged by the overlay's trust policy. */
import { beforeAll, describe, expect, it } from 'vitest';
import { certificateSigners, dataSignerFor } from '../../../../../src-main/reload/storage';
import { CertificateType } from '../../../../../src-main/reload/wire';
import { makeWorld, T0, type World } from './world';

let w: World;
beforeAll(async () => {
  w = await makeWorld();
});

describe('certificateSigners', () => {
  it('cert_hash names the certificate and its only Node-ID', () => {
    const lookup = certificateSigners(w.certificates, w.policy, T0);
    const found = lookup(w.alice.signer.identity)!;
    expect(found.identity.userName).toBe(w.alice.node.identity.userName);
    expect(found.nodeId).toEqual(w.alice.node.nodeId);
  });

  it('cert_hash_node_id names the Node-ID it hashes; cert_hash on a multi-Node-ID certificate names none', () => {
    const lookup = certificateSigners(
      w.certificates.map((certificate) => ({ type: CertificateType.X509, certificate })),
      w.policy,
      T0,
    );
    expect(lookup(w.multi.signer.identity)?.nodeId).toEqual(w.multi.nodeIds[1]);
    const plain = lookup(w.multiPlain.signer.identity)!;
    expect(plain.identity.nodeIds).toHaveLength(2);
    expect(plain.nodeId).toBeUndefined();
  });

  it('certificates the policy refuses are never used: untrusted issuer, or expired at `now`', () => {
    const lookup = certificateSigners(w.certificates, w.policy, T0);
    expect(lookup(w.stranger.signer.identity)).toBeUndefined();
    const later = certificateSigners(
      w.certificates,
      w.policy,
      w.alice.node.identity.certificate.notAfter.getTime() + 1,
    );
    expect(later(w.alice.signer.identity)).toBeUndefined();
    expect(lookup({ type: 'none' })).toBeUndefined();
    expect(certificateSigners([], w.policy, T0)(w.alice.signer.identity)).toBeUndefined();
  });

  it('dataSignerFor refuses a SignerIdentity that names another certificate', () => {
    expect(dataSignerFor(w.alice.node.identity, w.bob.signer.identity)).toBeUndefined();
    expect(dataSignerFor(w.alice.node.identity, w.alice.signer.identity)?.nodeId).toEqual(w.alice.node.nodeId);
  });
});
