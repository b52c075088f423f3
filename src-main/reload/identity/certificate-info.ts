/**
 * What a RELOAD certificate says: its Node-IDs (reload:// URIs in subjectAltName), its user name (the one
 * rfc822Name), validity, and its public key. Parsing only; trust decisions are in trust-policy.ts.
 */
import { X509Certificate as NodeX509, type KeyObject } from 'node:crypto';
import { decodeContext, parseReloadUri } from '../wire';
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
  let parsed: x509.X509Certificate;
  try {
    node = new NodeX509(der);
    parsed = new x509.X509Certificate(der);
  } catch (error) {
    throw new CertificateRejectedError('unparseable', `not an X.509 certificate: ${(error as Error).message}`);
  }
  const san = parsed.getExtension(x509.SubjectAlternativeNameExtension);
  const names = san ? san.names.toJSON() : [];
  const uris = names.filter((n) => n.type === 'url').map((n) => n.value);
  const userNames = names.filter((n) => n.type === 'email').map((n) => n.value);
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
  return {
    der,
    nodeIds,
    userNames,
    uris,
    notBefore: parsed.notBefore,
    notAfter: parsed.notAfter,
    subjectEmpty: parsed.subject === '',
    selfSigned: node.checkIssued(node) && node.verify(node.publicKey),
    serialNumber: parsed.serialNumber,
    publicKey: node.publicKey,
    spki: new Uint8Array(node.publicKey.export({ format: 'der', type: 'spki' })),
    node,
    parsed,
  };
}
