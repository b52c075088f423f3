/**
 * CSRs and certificate issuance (RFC 6940 §11.3): the client's PKCS#10 request names its key and wanted
 * user name (as a subjectAltName rfc822Name extension request — where RFC 6940 leaves it open); the CA
 * issues a certificate with an empty subject, one reload:// URI per Node-ID and the user name as the only
 * rfc822Name. Also the overlay's root and self-signed identities.
 */
import { createPublicKey, KeyObject, randomBytes, type webcrypto } from 'node:crypto';
import { nodeIdUri } from '../wire';
import { CsrRejectedError, WeakCertificateError, WeakCsrError } from './errors';
import { keyWeakness, signatureAlgorithmWeakness } from './key-strength';
import { SIGNING_ALGORITHMS, type IdentityKeys, type KeyAlgorithm } from './keys';
import { selfSignedNodeIds, type SelfSignedDigest } from './node-id';
import { x509 } from './x509';
import { checkUserName } from './user-name';

export interface CertificateAuthority {
  keys: IdentityKeys;
  certificate: Uint8Array;
}

export interface CsrInfo {
  publicKey: x509.PublicKey;
  userNames: string[];
  algorithm: KeyAlgorithm;
}

function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] as number) & 0x7f; // positive INTEGER
  return bytes.toString('hex');
}

export async function createCsr(keys: IdentityKeys, userName: string): Promise<Uint8Array> {
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: '',
    keys: keys.webcrypto,
    signingAlgorithm: SIGNING_ALGORITHMS[keys.algorithm],
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'email', value: userName }])],
  });
  return new Uint8Array(csr.rawData);
}

/** The public key as a Node KeyObject, for the strength rule. */
function keyObjectOf(publicKey: x509.PublicKey | webcrypto.CryptoKey): KeyObject {
  if (publicKey instanceof x509.PublicKey)
    return createPublicKey({ key: Buffer.from(publicKey.rawData), format: 'der', type: 'spki' });
  return KeyObject.from(publicKey as Parameters<typeof KeyObject.from>[0]);
}

/** Parses a CSR, checks its key and signature algorithm against key-strength.ts, and that its key signed it. */
export async function readCsr(der: Uint8Array): Promise<CsrInfo> {
  let csr: x509.Pkcs10CertificateRequest;
  let key: KeyObject;
  try {
    csr = new x509.Pkcs10CertificateRequest(der);
    key = keyObjectOf(csr.publicKey);
  } catch (error) {
    throw new CsrRejectedError('unparseable', `not a PKCS#10 request: ${(error as Error).message}`);
  }
  const weak = keyWeakness(key) ?? signatureAlgorithmWeakness(der);
  if (weak) throw new WeakCsrError(weak.field, `the CSR is refused: ${weak.message}`);
  let verified = false;
  try {
    verified = await csr.verify();
  } catch {
    verified = false;
  }
  if (!verified) throw new CsrRejectedError('bad-signature', 'the CSR is not signed by the key it carries');
  // key-strength.ts let through only RSA and ECDSA P-256.
  const algorithm: KeyAlgorithm = key.asymmetricKeyType === 'rsa' ? 'rsa' : 'ecdsa';
  const userNames = csr.extensions
    .filter((e) => e.type === '2.5.29.17') // subjectAltName
    .flatMap((e) => new x509.SubjectAlternativeNameExtension(e.rawData).names.toJSON())
    .filter((n) => n.type === 'email')
    .map((n) => n.value);
  return { publicKey: csr.publicKey, userNames, algorithm };
}

/** Our own certificates (CA, self-signed) are held to the rule the trust policy will apply to them. */
function refuseWeakOwnKey(keys: IdentityKeys): void {
  const weak = keyWeakness(keys.publicKey);
  if (weak) throw new WeakCertificateError(weak.field, `refusing to make a certificate for this key: ${weak.message}`);
}

export async function createCertificateAuthority(
  keys: IdentityKeys,
  overlay: string,
  validDays: number,
): Promise<CertificateAuthority> {
  refuseWeakOwnKey(keys);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: `CN=${overlay} RELOAD CA`,
    notBefore: new Date(now - 5 * 60_000),
    notAfter: new Date(now + validDays * 86_400_000),
    signingAlgorithm: SIGNING_ALGORITHMS[keys.algorithm],
    keys: keys.webcrypto,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.webcrypto.publicKey),
    ],
  });
  return { keys, certificate: new Uint8Array(cert.rawData) };
}

export interface IssueRequest {
  ca: CertificateAuthority;
  publicKey: x509.PublicKey | webcrypto.CryptoKey;
  userName: string;
  nodeIds: readonly Uint8Array[];
  overlay: string;
  validDays: number;
  /** Extra names for TLS server certificates (the enrollment server's own). */
  dnsNames?: string[];
  ipAddresses?: string[];
}

export async function issueCertificate(
  req: IssueRequest,
): Promise<{ der: Uint8Array; serial: string; notAfter: Date }> {
  const weak = keyWeakness(keyObjectOf(req.publicKey));
  if (weak) throw new WeakCsrError(weak.field, `refusing to certify this key: ${weak.message}`);
  const now = Date.now();
  const notAfter = new Date(now + req.validDays * 86_400_000);
  const serial = randomSerial();
  const caCert = new x509.X509Certificate(req.ca.certificate);
  const names: x509.JsonGeneralName[] = [
    ...req.nodeIds.map((id) => ({ type: 'url' as const, value: nodeIdUri(id, req.overlay, id.length) })),
    ...(req.userName ? [{ type: 'email' as const, value: req.userName }] : []),
    ...(req.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(req.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial,
    subject: '',
    issuer: caCert.subject,
    notBefore: new Date(now - 5 * 60_000),
    notAfter,
    signingAlgorithm: SIGNING_ALGORITHMS[req.ca.keys.algorithm],
    publicKey: req.publicKey,
    signingKey: req.ca.keys.webcrypto.privateKey,
    extensions: [
      new x509.SubjectAlternativeNameExtension(names, true), // critical: the subject DN is empty
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  return { der: new Uint8Array(cert.rawData), serial, notAfter };
}

/** A self-signed identity for overlays with self-signed-permitted: Node-IDs derived from the key. */
export async function createSelfSignedIdentity(
  keys: IdentityKeys,
  userName: string,
  overlay: string,
  digest: SelfSignedDigest,
  nodeIdLength: number,
  validDays: number,
  count = 1,
): Promise<{ der: Uint8Array; nodeIds: Uint8Array[] }> {
  // Nobody vouches for a self-signed name, so at least it follows the one rule (no markup, one spelling).
  checkUserName(userName, { field: 'userName' });
  refuseWeakOwnKey(keys);
  const spki = new Uint8Array(keys.publicKey.export({ format: 'der', type: 'spki' }));
  const nodeIds = selfSignedNodeIds(spki, digest, nodeIdLength, count);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: '',
    notBefore: new Date(now - 5 * 60_000),
    notAfter: new Date(now + validDays * 86_400_000),
    signingAlgorithm: SIGNING_ALGORITHMS[keys.algorithm],
    keys: keys.webcrypto,
    extensions: [
      new x509.SubjectAlternativeNameExtension(
        [
          ...nodeIds.map((id) => ({ type: 'url' as const, value: nodeIdUri(id, overlay, nodeIdLength) })),
          { type: 'email', value: userName },
        ],
        true,
      ),
    ],
  });
  return { der: new Uint8Array(cert.rawData), nodeIds };
}
