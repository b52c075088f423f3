/**
 * The one place that decides whether a certificate is acceptable in an overlay: it chains to a root-cert
 * (or is self-signed where the configuration permits it, with Node-IDs derived from its key), its key and
 * signature algorithm are as strong as key-strength.ts demands (and so are the root-certs' keys), it is inside
 * its validity period, it carries Node-IDs for this overlay and exactly one user name, and none of its
 * Node-IDs is a bad-node. Every later layer (links, message and data signatures, configuration signers)
 * asks this module.
 */
import { createHash, X509Certificate as NodeX509 } from 'node:crypto';
import { bytesEqual, toHex } from '../wire';
import { readCertificate, type CertificateInfo } from './certificate-info';
import { CertificateRejectedError, WeakCertificateError } from './errors';
import { keyWeakness, signatureAlgorithmWeakness } from './key-strength';
import { selfSignedNodeIds, type SelfSignedDigest } from './node-id';

export interface TrustSettings {
  overlay: string;
  nodeIdLength: number;
  /** DER trust anchors (configuration root-cert). */
  rootCerts: readonly Uint8Array[];
  /** Present when the configuration says self-signed-permitted, with its digest. */
  selfSigned?: { digest: SelfSignedDigest };
  /** Revoked Node-IDs (configuration bad-node). */
  badNodes: readonly Uint8Array[];
}

export interface ValidatedIdentity {
  certificate: CertificateInfo;
  nodeIds: Uint8Array[];
  userName: string;
  selfSigned: boolean;
}

export class TrustPolicy {
  private readonly roots: NodeX509[];
  /**
   * Certificates already judged acceptable, by SHA-256 of their DER: parsing and chain checks cost far
   * more than a signature check, and the same few certificates sign most messages. Everything but time is
   * fixed for a given policy (its settings are never changed; a new configuration makes a new policy), so a
   * hit re-checks only the time against the window in which the whole judgement holds: the certificate's
   * validity intersected with its root-cert's. Outside it the certificate is judged afresh (and refused).
   * Bounded, least recently used evicted first.
   */
  private readonly accepted = new Map<string, { identity: ValidatedIdentity; from: number; until: number }>();
  private static readonly CACHE_SIZE = 1024;

  constructor(readonly settings: TrustSettings) {
    this.roots = settings.rootCerts.map((der, i) => {
      try {
        return new NodeX509(der);
      } catch (error) {
        throw new CertificateRejectedError(
          'unparseable',
          `root-cert #${i + 1} is not an X.509 certificate: ${(error as Error).message}`,
        );
      }
    });
    for (const root of this.roots) {
      if (!root.ca)
        throw new CertificateRejectedError('not-a-ca', `root-cert ${root.subject} lacks BasicConstraints cA=true`);
      // A weak anchor makes every certificate forgeable. Its self-signature proves nothing, so only the key counts.
      const weak = keyWeakness(root.publicKey);
      if (weak) throw new WeakCertificateError(weak.field, `root-cert ${root.subject}: ${weak.message}`);
    }
  }

  validate(der: Uint8Array, now: Date = new Date()): ValidatedIdentity {
    const key = createHash('sha256').update(der).digest('base64');
    const t = now.getTime();
    const hit = this.accepted.get(key);
    if (hit) {
      this.accepted.delete(key);
      if (t >= hit.from && t <= hit.until) {
        this.accepted.set(key, hit); // most recently used
        return hit.identity;
      }
    }
    const judged = this.judge(der, now);
    this.accepted.set(key, judged);
    if (this.accepted.size > TrustPolicy.CACHE_SIZE) this.accepted.delete(this.accepted.keys().next().value as string);
    return judged.identity;
  }

  /** The full judgement, and the time window (ms) in which it holds. */
  private judge(der: Uint8Array, now: Date): { identity: ValidatedIdentity; from: number; until: number } {
    const info = readCertificate(der, this.settings.overlay, this.settings.nodeIdLength);
    const weak = keyWeakness(info.publicKey) ?? signatureAlgorithmWeakness(der);
    if (weak) throw new WeakCertificateError(weak.field, `certificate refused: ${weak.message}`);
    if (now < info.notBefore)
      throw new CertificateRejectedError(
        'not-yet-valid',
        `certificate is valid only from ${info.notBefore.toISOString()}`,
      );
    if (now > info.notAfter)
      throw new CertificateRejectedError('expired', `certificate expired at ${info.notAfter.toISOString()}`);

    const root = this.roots.find((r) => info.node.checkIssued(r));
    let selfSigned = false;
    if (root) {
      if (!info.node.verify(root.publicKey)) {
        throw new CertificateRejectedError(
          'bad-signature',
          'certificate signature does not verify with the root-cert that names its issuer',
        );
      }
      if (now < new Date(root.validFrom) || now > new Date(root.validTo)) {
        throw new CertificateRejectedError(
          'untrusted-issuer',
          `the root-cert ${root.subject} is outside its validity period`,
        );
      }
    } else if (info.selfSigned) {
      if (!this.settings.selfSigned) {
        throw new CertificateRejectedError(
          'self-signed-not-permitted',
          'self-signed certificates are not permitted in this overlay',
        );
      }
      const expected = selfSignedNodeIds(
        info.spki,
        this.settings.selfSigned.digest,
        this.settings.nodeIdLength,
        Math.max(1, info.nodeIds.length),
      );
      const matches =
        info.nodeIds.length > 0 && info.nodeIds.every((id, i) => bytesEqual(id, expected[i] as Uint8Array));
      if (!matches) {
        throw new CertificateRejectedError(
          'node-id-mismatch',
          `self-signed Node-ID must be ${this.settings.selfSigned.digest} of the public key (${toHex(expected[0] as Uint8Array)})`,
        );
      }
      selfSigned = true;
    } else {
      throw new CertificateRejectedError(
        'untrusted-issuer',
        `certificate issuer "${info.node.issuer}" is not one of the overlay's root-certs`,
      );
    }

    if (info.nodeIds.length === 0) {
      throw new CertificateRejectedError(
        'no-node-id',
        `certificate carries no reload:// Node-ID for overlay ${this.settings.overlay}`,
      );
    }
    if (info.userNames.length !== 1) {
      throw new CertificateRejectedError(
        'user-name',
        `certificate must carry exactly one rfc822Name user name, not ${info.userNames.length}`,
      );
    }
    const bad = info.nodeIds.find((id) => this.settings.badNodes.some((b) => bytesEqual(b, id)));
    if (bad) throw new CertificateRejectedError('bad-node', `Node-ID ${toHex(bad)} is listed as bad-node`);
    const identity = { certificate: info, nodeIds: info.nodeIds, userName: info.userNames[0] as string, selfSigned };
    let from = info.notBefore.getTime();
    let until = info.notAfter.getTime();
    if (root) {
      from = Math.max(from, new Date(root.validFrom).getTime());
      until = Math.min(until, new Date(root.validTo).getTime());
    }
    return { identity, from, until };
  }

  /** Is this identity one of `allowed` (configuration-signer, kind-signer)? */
  isSignerAllowed(identity: ValidatedIdentity, allowed: readonly Uint8Array[]): boolean {
    return identity.nodeIds.some((id) => allowed.some((a) => bytesEqual(a, id)));
  }
}
