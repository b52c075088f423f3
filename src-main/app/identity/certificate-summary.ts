/** One identity certificate as Settings → Identity shows it (CertificateInfo): public facts only. */
import type { KeyObject } from 'node:crypto';
import type { CertificateInfo } from '../../../src-shared/model/identity';
import type { UserError } from '../../../src-shared/model/user-errors';
import { readCertificate, toHex } from '../../reload';

const DAY_MS = 86_400_000;

/** The opaque handle of an identity in requests: overlay and user name (both validated where they came from). */
export function certificateId(overlay: string, userName: string): string {
  return `${overlay}/${userName}`;
}

/** "ECDSA P-256", "RSA 2048", … from the certificate's public key. */
export function keyAlgorithmOf(key: KeyObject): string {
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'ec': {
      const curve = details.namedCurve;
      const names: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };
      return `ECDSA ${curve ? (names[curve] ?? curve) : '(unknown curve)'}`;
    }
    case 'rsa':
      return `RSA ${details.modulusLength ?? ''}`.trim();
    default:
      return (key.asymmetricKeyType ?? 'unknown').toUpperCase();
  }
}

export function summarizeCertificate(params: {
  der: Uint8Array;
  overlay: string;
  userName: string;
  nodeIdLength: number;
  active: boolean;
  renewalDue: Date;
  lastError: UserError | null;
  now: Date;
}): CertificateInfo {
  const info = readCertificate(params.der, params.overlay, params.nodeIdLength);
  const issuer = info.parsed.issuer;
  return {
    id: certificateId(params.overlay, params.userName),
    overlay: params.overlay,
    userName: params.userName,
    nodeIds: info.nodeIds.map(toHex),
    issuer: issuer || (info.selfSigned ? 'self-signed' : '(no name)'),
    selfSigned: info.selfSigned,
    notBefore: info.notBefore.toISOString(),
    notAfter: info.notAfter.toISOString(),
    daysLeft: Math.floor((info.notAfter.getTime() - params.now.getTime()) / DAY_MS),
    fingerprint: info.node.fingerprint256,
    keyAlgorithm: keyAlgorithmOf(info.publicKey),
    active: params.active,
    renewal: { due: params.renewalDue.toISOString(), lastError: params.lastError },
  };
}
