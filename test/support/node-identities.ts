/** CA-issued identities for several test nodes, and the trust policy that accepts them. */
import type { KeyObject } from 'node:crypto';
import {
  createCertificateAuthority,
  generateIdentityKeys,
  issueCertificate,
  TrustPolicy,
  type CertificateAuthority,
  type KeyAlgorithm,
  type ValidatedIdentity,
} from '../../src-main/reload/identity';

export const TEST_OVERLAY = 'links.example.org';

export interface TestNode {
  nodeId: Uint8Array;
  privateKey: KeyObject;
  certificate: Uint8Array;
  identity: ValidatedIdentity;
}

export interface TestNodes {
  ca: CertificateAuthority;
  policy: TrustPolicy;
  nodes: TestNode[];
}

export async function makeNodes(
  count: number,
  algorithm: KeyAlgorithm = 'ecdsa',
  ca?: CertificateAuthority,
): Promise<TestNodes> {
  const authority = ca ?? (await createCertificateAuthority(await generateIdentityKeys(algorithm), TEST_OVERLAY, 30));
  const policy = new TrustPolicy({
    overlay: TEST_OVERLAY,
    nodeIdLength: 16,
    rootCerts: [authority.certificate],
    badNodes: [],
  });
  const nodes: TestNode[] = [];
  for (let i = 0; i < count; i++) {
    const keys = await generateIdentityKeys(algorithm);
    const nodeId = Uint8Array.from({ length: 16 }, (_, k) => (i * 17 + k * 3 + 1) & 0xff);
    const { der } = await issueCertificate({
      ca: authority,
      publicKey: keys.webcrypto.publicKey,
      userName: `node${i}@${TEST_OVERLAY}`,
      nodeIds: [nodeId],
      overlay: TEST_OVERLAY,
      validDays: 5,
    });
    nodes.push({ nodeId, privateKey: keys.privateKey, certificate: der, identity: policy.validate(der) });
  }
  return { ca: authority, policy, nodes };
}
