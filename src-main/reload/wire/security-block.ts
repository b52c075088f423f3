/** SecurityBlock, Signature and SignerIdentity (RFC 6940 §6.3.4). */
import { label, type Reader } from './reader';
import { labelEncode, type Writer } from './writer';

export interface GenericCertificate {
  /** 0 = X.509 (the only type defined). */
  type: number;
  /** DER for X.509. */
  certificate: Uint8Array;
}

export interface SignatureAndHashAlgorithm {
  hash: number;
  signature: number;
}

export type SignerIdentity =
  /** H(DER certificate): certificates with one Node-ID. */
  | { type: 'cert_hash'; hashAlg: number; hash: Uint8Array }
  /** H(Node-ID || DER certificate): certificates with several Node-IDs. */
  | { type: 'cert_hash_node_id'; hashAlg: number; hash: Uint8Array }
  /** Only in values a storing peer synthesizes in a FetchAns. */
  | { type: 'none' }
  /** A SignerIdentityType this implementation does not know; kept verbatim via its length. */
  | { type: 'unknown'; code: number; value: Uint8Array };

export interface Signature {
  algorithm: SignatureAndHashAlgorithm;
  identity: SignerIdentity;
  value: Uint8Array;
}

export interface SecurityBlock {
  certificates: GenericCertificate[];
  signature: Signature;
}

const CERT_HASH = 1;
const CERT_HASH_NODE_ID = 2;
const NONE = 3;

export function readSignerIdentity(r: Reader): SignerIdentity {
  try {
    const at = r.pos;
    const code = r.u8('identity_type');
    if (code === 0) throw r.fail('invalid SignerIdentityType 0', 'identity_type', at);
    const len = r.u16('length');
    const outer = r.enter(len, 'identity');
    let identity: SignerIdentity;
    try {
      if (code === CERT_HASH || code === CERT_HASH_NODE_ID) {
        const hashAlg = r.u8('hash_alg');
        const hash = r.opaque(1, 0, 255, code === CERT_HASH ? 'certificate_hash' : 'certificate_node_id_hash');
        identity = { type: code === CERT_HASH ? 'cert_hash' : 'cert_hash_node_id', hashAlg, hash };
      } else if (code === NONE) {
        identity = { type: 'none' };
      } else {
        identity = { type: 'unknown', code, value: r.fixed(len, 'value') };
      }
      r.exit(outer);
    } catch (error) {
      throw label(error, 'identity');
    }
    return identity;
  } catch (error) {
    throw label(error, 'SignerIdentity');
  }
}

export function writeSignerIdentity(w: Writer, id: SignerIdentity): void {
  try {
    switch (id.type) {
      case 'cert_hash':
      case 'cert_hash_node_id': {
        w.u8(id.type === 'cert_hash' ? CERT_HASH : CERT_HASH_NODE_ID);
        const at = w.open(2);
        w.u8(id.hashAlg, 'hash_alg');
        w.opaque(1, 0, 255, id.hash, 'certificate_hash');
        w.close(at, 2, 0, 0xffff, 'identity');
        return;
      }
      case 'none':
        w.u8(NONE);
        w.u16(0);
        return;
      case 'unknown':
        if (id.code <= NONE || id.code > 255)
          throw w.fail('unknown SignerIdentityType must be 4..255', 'identity_type');
        w.u8(id.code);
        w.opaque(2, 0, 0xffff, id.value, 'identity');
        return;
      default:
        throw w.fail(`unknown signer identity variant ${String((id as { type: unknown }).type)}`, 'identity_type');
    }
  } catch (error) {
    throw labelEncode(error, 'SignerIdentity');
  }
}

export function readSignature(r: Reader): Signature {
  try {
    const hash = r.u8('hash');
    const signature = r.u8('signature');
    const identity = readSignerIdentity(r);
    const value = r.opaque(2, 0, 0xffff, 'signature_value');
    return { algorithm: { hash, signature }, identity, value };
  } catch (error) {
    throw label(error, 'Signature');
  }
}

export function writeSignature(w: Writer, s: Signature): void {
  try {
    w.u8(s.algorithm.hash, 'hash');
    w.u8(s.algorithm.signature, 'signature');
    writeSignerIdentity(w, s.identity);
    w.opaque(2, 0, 0xffff, s.value, 'signature_value');
  } catch (error) {
    throw labelEncode(error, 'Signature');
  }
}

function readGenericCertificate(r: Reader): GenericCertificate {
  return { type: r.u8('type'), certificate: r.opaque(2, 0, 0xffff, 'certificate') };
}

function writeGenericCertificate(w: Writer, c: GenericCertificate): void {
  w.u8(c.type, 'type');
  w.opaque(2, 0, 0xffff, c.certificate, 'certificate');
}

export function readSecurityBlock(r: Reader): SecurityBlock {
  try {
    const certificates = r.list(2, 0, 0xffff, 'certificates', readGenericCertificate);
    const signature = readSignature(r);
    return { certificates, signature };
  } catch (error) {
    throw label(error, 'SecurityBlock');
  }
}

export function writeSecurityBlock(w: Writer, s: SecurityBlock): void {
  try {
    w.list(2, 0, 0xffff, 'certificates', s.certificates, writeGenericCertificate);
    writeSignature(w, s.signature);
  } catch (error) {
    throw labelEncode(error, 'SecurityBlock');
  }
}

/** The placeholder signature of synthesized values (algorithm {0,0}, identity none, empty value). */
export const NO_SIGNATURE: Signature = {
  algorithm: { hash: 0, signature: 0 },
  identity: { type: 'none' },
  value: new Uint8Array(0),
};
