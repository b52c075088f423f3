/**
 * Password-encrypted PKCS#8 (EncryptedPrivateKeyInfo, RFC 5958) with PBES2 (RFC 8018): written here with
 * PBKDF2-HMAC-SHA256 at IDENTITY_FILE_KDF's cost and AES-256-CBC, a structure OpenSSL and Node read
 * natively. Read here too, for any PBES2 file OpenSSL writes with PBKDF2 and AES-CBC (Node's own encrypted
 * PEM used 2,048 iterations), so that the cost is checked before a single iteration runs and files below
 * today's cost can be rewritten. Synchronous, as OpenSSL's own decryption was: one derivation (~140 ms
 * here) when a file is exported or imported.
 * scrypt is not used: OpenSSL's PBES2 refuses scrypt at N = 2^17 (its 32 MiB limit), so neither
 * `openssl pkey` nor Node could read such a file (docs/decisions.md).
 */
import { createCipheriv, createDecipheriv, pbkdf2Sync, randomBytes } from 'node:crypto';
import {
  DER,
  derChildren,
  derElement,
  derEncode,
  derEncodeInteger,
  derEncodeOid,
  derExpect,
  derOid,
  derSmallInteger,
  type DerElement,
} from './der';
import { IdentityFileError } from './errors';

export type Prf = 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512';
export type KeyCipher = 'aes-128-cbc' | 'aes-192-cbc' | 'aes-256-cbc';

export interface KeyEncryption {
  kdf: 'pbkdf2';
  prf: Prf;
  iterations: number;
  salt: Uint8Array;
  cipher: KeyCipher;
  iv: Uint8Array;
}

/**
 * What new files use: OWASP's 2023 figure for PBKDF2-HMAC-SHA256 (about 140 ms per guess on one core
 * here, against 0.5 ms at the old 2,048 iterations; docs/decisions.md has the measurements).
 */
export const IDENTITY_FILE_KDF = { prf: 'sha256', iterations: 600_000, saltBytes: 16, cipher: 'aes-256-cbc' } as const;

/** A file asking for more is refused unread: it could hold the process for minutes (10^7 ≈ 2.3 s here). */
export const MAX_KDF_ITERATIONS = 10_000_000;

const OID = {
  pbes2: '1.2.840.113549.1.5.13',
  pbkdf2: '1.2.840.113549.1.5.12',
  scrypt: '1.3.6.1.4.1.11591.4.11',
} as const;

const PRFS: Record<Prf, string> = {
  sha1: '1.2.840.113549.2.7',
  sha224: '1.2.840.113549.2.8',
  sha256: '1.2.840.113549.2.9',
  sha384: '1.2.840.113549.2.10',
  sha512: '1.2.840.113549.2.11',
};

const CIPHERS: Record<KeyCipher, { oid: string; keyBytes: number }> = {
  'aes-128-cbc': { oid: '2.16.840.1.101.3.4.1.2', keyBytes: 16 },
  'aes-192-cbc': { oid: '2.16.840.1.101.3.4.1.22', keyBytes: 24 },
  'aes-256-cbc': { oid: '2.16.840.1.101.3.4.1.42', keyBytes: 32 },
};

const prfByOid = (oid: string) => (Object.keys(PRFS) as Prf[]).find((name) => PRFS[name] === oid);
const cipherByOid = (oid: string) => (Object.keys(CIPHERS) as KeyCipher[]).find((name) => CIPHERS[name].oid === oid);

/** Does this encryption meet today's cost (else the file is rewritten on its next use)? */
export function isCurrentEncryption(e: KeyEncryption): boolean {
  return (
    e.prf === IDENTITY_FILE_KDF.prf &&
    e.iterations >= IDENTITY_FILE_KDF.iterations &&
    e.cipher === IDENTITY_FILE_KDF.cipher &&
    e.salt.length >= IDENTITY_FILE_KDF.saltBytes
  );
}

const malformed = (what: string) => new IdentityFileError('encryption', `encrypted key: ${what}`);

/** Reads the structure and checks every parameter; runs no KDF. */
export function parseEncryptedKey(der: Uint8Array): { encryption: KeyEncryption; encrypted: Uint8Array } {
  try {
    const outer = derExpect(der, 0, der.length, DER.SEQUENCE, 'EncryptedPrivateKeyInfo');
    if (outer.end !== der.length) throw new Error('trailing bytes after EncryptedPrivateKeyInfo');
    const [algorithm, data, ...rest] = derChildren(der, outer);
    if (!algorithm || algorithm.tag !== DER.SEQUENCE || data?.tag !== DER.OCTET_STRING || rest.length > 0)
      throw new Error('EncryptedPrivateKeyInfo must be { AlgorithmIdentifier, OCTET STRING }');
    const [schemeOid, schemeParams] = derChildren(der, algorithm);
    if (!schemeOid || derOid(der, schemeOid) !== OID.pbes2 || schemeParams?.tag !== DER.SEQUENCE)
      return unsupported('encryptionAlgorithm: only PBES2 is read (not the PKCS#5 v1.5 or PKCS#12 schemes)');
    const [kdfAlg, cipherAlg] = derChildren(der, schemeParams);
    if (kdfAlg?.tag !== DER.SEQUENCE || cipherAlg?.tag !== DER.SEQUENCE) throw new Error('malformed PBES2-params');
    const [kdfOid, kdfParams] = derChildren(der, kdfAlg);
    const kdfName = kdfOid ? derOid(der, kdfOid) : '';
    if (kdfName === OID.scrypt) return unsupported('keyDerivationFunc: scrypt files are not read; PBKDF2 only');
    if (kdfName !== OID.pbkdf2 || kdfParams?.tag !== DER.SEQUENCE)
      return unsupported(`keyDerivationFunc: ${kdfName || '?'} is not PBKDF2`);
    const { prf, iterations, salt, keyLength } = pbkdf2Params(der, kdfParams);
    const [cipherOid, ivElement] = derChildren(der, cipherAlg);
    const cipher = cipherOid ? cipherByOid(derOid(der, cipherOid)) : undefined;
    if (!cipher) return unsupported('encryptionScheme: only AES-128/192/256-CBC are read');
    if (ivElement?.tag !== DER.OCTET_STRING || ivElement.end - ivElement.start !== 16)
      throw new Error('encryptionScheme: the AES-CBC IV must be 16 bytes');
    if (keyLength !== undefined && keyLength !== CIPHERS[cipher].keyBytes)
      throw new Error(`keyLength ${keyLength} does not fit ${cipher}`);
    const encrypted = der.slice(data.start, data.end);
    if (encrypted.length === 0 || encrypted.length % 16 !== 0)
      throw new Error('encryptedData is not a whole number of AES blocks');
    return {
      encryption: { kdf: 'pbkdf2', prf, iterations, salt, cipher, iv: der.slice(ivElement.start, ivElement.end) },
      encrypted,
    };
  } catch (error) {
    if (error instanceof IdentityFileError) throw error;
    throw malformed((error as Error).message);
  }
}

function unsupported(what: string): never {
  throw new IdentityFileError('encryption', `encrypted key: ${what}`);
}

function pbkdf2Params(
  der: Uint8Array,
  params: DerElement,
): { prf: Prf; iterations: number; salt: Uint8Array; keyLength?: number } {
  const fields = derChildren(der, params);
  const [saltElement, countElement] = fields;
  if (saltElement?.tag !== DER.OCTET_STRING) throw new Error('PBKDF2-params: salt must be an OCTET STRING');
  const salt = der.slice(saltElement.start, saltElement.end);
  if (salt.length < 8 || salt.length > 64) throw new Error(`PBKDF2-params: salt of ${salt.length} bytes (8..64)`);
  if (countElement?.tag !== DER.INTEGER) throw new Error('PBKDF2-params: iterationCount missing');
  if (countElement.end - countElement.start > 7 || ((der[countElement.start] as number) & 0x80) !== 0)
    throw new IdentityFileError('kdf-cost', `encrypted key: iterations out of range (at most ${MAX_KDF_ITERATIONS})`);
  const iterations = derSmallInteger(der, countElement);
  if (iterations < 1) throw new Error('PBKDF2-params: iterations must be at least 1');
  if (iterations > MAX_KDF_ITERATIONS)
    throw new IdentityFileError(
      'kdf-cost',
      `encrypted key: iterations ${iterations} is more than ${MAX_KDF_ITERATIONS}; refused before deriving a key`,
    );
  let next = 2;
  let keyLength: number | undefined;
  if (fields[next]?.tag === DER.INTEGER) keyLength = derSmallInteger(der, fields[next++] as DerElement);
  let prf: Prf = 'sha1'; // the DEFAULT of PBKDF2-params
  const prfAlg = fields[next++];
  if (prfAlg) {
    if (prfAlg.tag !== DER.SEQUENCE) throw new Error('PBKDF2-params: prf must be an AlgorithmIdentifier');
    const [prfOid, prfParams] = derChildren(der, prfAlg);
    const found = prfOid ? prfByOid(derOid(der, prfOid)) : undefined;
    if (!found) return unsupported('PBKDF2-params: prf must be HMAC with SHA-1 or SHA-2');
    if (prfParams && prfParams.tag !== DER.NULL) throw new Error('PBKDF2-params: prf parameters must be NULL');
    prf = found;
  }
  if (fields.length > next) throw new Error('PBKDF2-params: unexpected fields');
  return { prf, iterations, salt, ...(keyLength !== undefined ? { keyLength } : {}) };
}

function deriveKey(passphrase: string, e: KeyEncryption): Buffer {
  return pbkdf2Sync(Buffer.from(passphrase, 'utf8'), e.salt, e.iterations, CIPHERS[e.cipher].keyBytes, e.prf);
}

/** The PKCS#8 DER inside, or IdentityFileError('passphrase') when it does not decrypt to one. */
export function decryptPrivateKey(
  der: Uint8Array,
  passphrase: string,
): { pkcs8: Uint8Array; encryption: KeyEncryption } {
  const { encryption, encrypted } = parseEncryptedKey(der);
  const key = deriveKey(passphrase, encryption);
  let pkcs8: Buffer;
  try {
    const decipher = createDecipheriv(encryption.cipher, key, encryption.iv);
    pkcs8 = Buffer.concat([decipher.update(encrypted), decipher.final()]);
    derElement(pkcs8, 0, pkcs8.length); // padding can come out right by chance; the structure rarely does
  } catch {
    throw new IdentityFileError('passphrase', 'passphrase: wrong passphrase, or the key is damaged');
  }
  return { pkcs8: new Uint8Array(pkcs8), encryption };
}

/** Encrypts PKCS#8 DER at today's cost; returns EncryptedPrivateKeyInfo DER. */
export function encryptPrivateKey(pkcs8: Uint8Array, passphrase: string): Uint8Array {
  const encryption: KeyEncryption = {
    kdf: 'pbkdf2',
    prf: IDENTITY_FILE_KDF.prf,
    iterations: IDENTITY_FILE_KDF.iterations,
    salt: new Uint8Array(randomBytes(IDENTITY_FILE_KDF.saltBytes)),
    cipher: IDENTITY_FILE_KDF.cipher,
    iv: new Uint8Array(randomBytes(16)),
  };
  const key = deriveKey(passphrase, encryption);
  const cipher = createCipheriv(encryption.cipher, key, encryption.iv);
  const encrypted = Buffer.concat([cipher.update(pkcs8), cipher.final()]);
  const seq = (...c: Uint8Array[]) => derEncode(DER.SEQUENCE, ...c);
  return seq(
    seq(
      derEncodeOid(OID.pbes2),
      seq(
        seq(
          derEncodeOid(OID.pbkdf2),
          seq(
            derEncode(DER.OCTET_STRING, encryption.salt),
            derEncodeInteger(encryption.iterations),
            seq(derEncodeOid(PRFS[encryption.prf]), derEncode(DER.NULL)),
          ),
        ),
        seq(derEncodeOid(CIPHERS[encryption.cipher].oid), derEncode(DER.OCTET_STRING, encryption.iv)),
      ),
    ),
    derEncode(DER.OCTET_STRING, encrypted),
  );
}
