/**
 * Who signed a stored value or a StoreReq: a certificate the trust policy accepted, and the Node-ID its
 * SignerIdentity names (RFC 6940 §6.3.4: cert_hash for a certificate with one Node-ID, cert_hash_node_id
 * naming one of several). The access control policies match on exactly these.
 */
import { identityNames } from '../crypto';
import { CertificateRejectedError, type TrustPolicy, type ValidatedIdentity } from '../identity';
import { CertificateType, toHex, type GenericCertificate, type SignerIdentity } from '../wire';

export interface DataSigner {
  readonly identity: ValidatedIdentity;
  /**
   * The Node-ID the SignerIdentity names: with cert_hash the certificate's only Node-ID, with
   * cert_hash_node_id the one hashed in; undefined when cert_hash names a certificate with several.
   */
  readonly nodeId: Uint8Array | undefined;
}

/** Finds the (trusted) certificate a SignerIdentity names; undefined when there is none. */
export type SignerLookup = (identity: SignerIdentity) => DataSigner | undefined;

/** The DataSigner for a certificate already judged by the trust policy, if `signerIdentity` names it. */
export function dataSignerFor(identity: ValidatedIdentity, signerIdentity: SignerIdentity): DataSigner | undefined {
  const der = identity.certificate.der;
  if (signerIdentity.type === 'cert_hash') {
    if (!identityNames(signerIdentity, der)) return undefined;
    return { identity, nodeId: identity.nodeIds.length === 1 ? identity.nodeIds[0] : undefined };
  }
  if (signerIdentity.type === 'cert_hash_node_id') {
    const nodeId = identity.nodeIds.find((id) => identityNames(signerIdentity, der, id));
    return nodeId ? { identity, nodeId } : undefined;
  }
  return undefined;
}

function identityKey(id: SignerIdentity): string {
  switch (id.type) {
    case 'cert_hash':
    case 'cert_hash_node_id':
      return `${id.type}/${id.hashAlg}/${toHex(id.hash)}`;
    default:
      return id.type;
  }
}

/**
 * A SignerLookup over certificates (usually a message's security block), each judged by the trust policy at
 * `nowMs` the first time a signature might need it; certificates the policy refuses are never used.
 */
export function certificateSigners(
  certificates: readonly (GenericCertificate | Uint8Array)[],
  policy: TrustPolicy,
  nowMs: number,
): SignerLookup {
  const ders = certificates.flatMap((c) =>
    c instanceof Uint8Array ? [c] : c.type === CertificateType.X509 ? [c.certificate] : [],
  );
  const validated: (ValidatedIdentity | null | undefined)[] = [];
  const found = new Map<string, DataSigner | undefined>();
  const validate = (i: number): ValidatedIdentity | null => {
    let v = validated[i];
    if (v === undefined) {
      try {
        v = policy.validate(ders[i] as Uint8Array, new Date(nowMs));
      } catch (error) {
        if (!(error instanceof CertificateRejectedError)) throw error;
        v = null;
      }
      validated[i] = v;
    }
    return v;
  };
  return (signerIdentity) => {
    const key = identityKey(signerIdentity);
    if (found.has(key)) return found.get(key);
    let signer: DataSigner | undefined;
    for (let i = 0; i < ders.length && !signer; i++) {
      const identity = validate(i);
      if (identity) signer = dataSignerFor(identity, signerIdentity);
    }
    found.set(key, signer);
    return signer;
  };
}
