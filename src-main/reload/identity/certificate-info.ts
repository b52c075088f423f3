/**
 * What a RELOAD certificate says: its Node-IDs (reload:// URIs in subjectAltName), its user name (the one
 * rfc822Name), validity, and its public key. Parsing only; trust decisions are in trust-policy.ts.
 */
import { X509Certificate as NodeX509, type KeyObject } from 'node:crypto';
import { decodeContext, parseReloadUri } from '../wire';
import { derElement as element } from './der';
import { CertificateRejectedError } from './errors';
import { x509 } from './x509';

export interface CertificateInfo {
  der: Uint8Array;
  /** Node-IDs from `reload://0110<id>@<overlay>/` URIs, for this overlay only. */
  nodeIds: Uint8Array[];
  /** rfc822Name entries (RELOAD requires exactly one: the user name). */
  userNames: string[];
  /** Every URI SAN, as written (for diagnostics). */
  uris: string[];
  notBefore: Date;
  notAfter: Date;
  subjectEmpty: boolean;
  selfSigned: boolean;
  serialNumber: string;
  publicKey: KeyObject;
  /** DER SubjectPublicKeyInfo, the input of self-signed Node-ID derivation. */
  spki: Uint8Array;
  node: NodeX509;
  parsed: x509.X509Certificate;
}

export function readCertificate(der: Uint8Array, overlay: string, nodeIdLength = 16): CertificateInfo {
  let node: NodeX509;
  let names: { uris: string[]; emails: string[] };
  try {
    node = new NodeX509(der);
    // The SANs straight from the DER: @peculiar/x509's ASN.1 schema parser costs milliseconds per
    // certificate, and every peer meets every other's certificate at least once (docs/decisions.md).
    names = subjectAltNames(der);
  } catch (error) {
    throw new CertificateRejectedError('unparseable', `not an X.509 certificate: ${(error as Error).message}`);
  }
  const { uris, emails: userNames } = names;
  const ctx = decodeContext({ nodeIdLength });
  const nodeIds: Uint8Array[] = [];
  for (const uri of uris) {
    try {
      const parsedUri = parseReloadUri(uri, ctx);
      const [only] = parsedUri.destinations;
      if (parsedUri.overlay === overlay.toLowerCase() && parsedUri.destinations.length === 1 && only?.type === 'node') {
        nodeIds.push(new Uint8Array(only.id));
      }
    } catch {
      // Not a RELOAD URI for us: ignored, as any other URI SAN.
    }
  }
  // Rarely needed, so computed on first use: the @peculiar/x509 view and the SPKI export.
  let parsed: x509.X509Certificate | undefined;
  let spki: Uint8Array | undefined;
  const peculiar = () => (parsed ??= new x509.X509Certificate(der));
  return {
    der,
    nodeIds,
    userNames,
    uris,
    notBefore: new Date(node.validFrom),
    notAfter: new Date(node.validTo),
    get subjectEmpty() {
      return peculiar().subject === '';
    },
    selfSigned: node.checkIssued(node) && node.verify(node.publicKey),
    get serialNumber() {
      return peculiar().serialNumber;
    },
    publicKey: node.publicKey,
    get spki() {
      return (spki ??= new Uint8Array(node.publicKey.export({ format: 'der', type: 'spki' })));
    },
    node,
    get parsed() {
      return peculiar();
    },
  };
}

const SEQUENCE = 0x30;
const SAN_OID = [0x55, 0x1d, 0x11]; // 2.5.29.17 subjectAltName
const latin1 = (der: Uint8Array, e: { start: number; end: number }) =>
  String.fromCharCode(...der.subarray(e.start, e.end));

/**
 * The uniformResourceIdentifier ([6]) and rfc822Name ([1]) entries of the first subjectAltName extension
 * (IA5Strings, read byte for byte as @peculiar/x509 does). Throws on malformed structure.
 */
export function subjectAltNames(der: Uint8Array): { uris: string[]; emails: string[] } {
  const uris: string[] = [];
  const emails: string[] = [];
  const certificate = element(der, 0, der.length);
  const tbs = element(der, certificate.start, certificate.end);
  if (certificate.tag !== SEQUENCE || tbs.tag !== SEQUENCE) throw new Error('not a certificate');
  for (let p = tbs.start; p < tbs.end;) {
    const field = element(der, p, tbs.end);
    p = field.end;
    if (field.tag !== 0xa3) continue; // [3] EXPLICIT Extensions
    const extensions = element(der, field.start, field.end);
    if (extensions.tag !== SEQUENCE) throw new Error('malformed extensions');
    for (let q = extensions.start; q < extensions.end;) {
      const extension = element(der, q, extensions.end);
      q = extension.end;
      const oid = element(der, extension.start, extension.end);
      if (extension.tag !== SEQUENCE || oid.tag !== 0x06) throw new Error('malformed extension');
      if (oid.end - oid.start !== SAN_OID.length || SAN_OID.some((b, i) => der[oid.start + i] !== b)) continue;
      let value = element(der, oid.end, extension.end);
      if (value.tag === 0x01) value = element(der, value.end, extension.end); // critical flag
      if (value.tag !== 0x04) throw new Error('malformed subjectAltName extension');
      const names = element(der, value.start, value.end);
      if (names.tag !== SEQUENCE || names.end !== value.end) throw new Error('malformed subjectAltName');
      for (let r = names.start; r < names.end;) {
        const name = element(der, r, names.end);
        r = name.end;
        if (name.tag === 0x86) uris.push(latin1(der, name));
        else if (name.tag === 0x81) emails.push(latin1(der, name));
      }
      return { uris, emails };
    }
  }
  return { uris, emails };
}
