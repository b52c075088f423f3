/**
 * Issue 10, item 9: identity files were encrypted with PBKDF2 at 2,048 iterations (Node's default for
 * encrypted PKCS#8), cheap to guess offline. New files use PBKDF2-HMAC-SHA256 at 600,000 iterations (read
 * here with OpenSSL's own ASN.1 parser, not ours); old files are still read and are rewritten in the new
 * format on their next successful use, atomically: a rewrite that fails leaves the old file as it was.
 */
import { execFileSync } from 'node:child_process';
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openIdentityFile } from '../../src-main/app/identity/identity-file-on-disk';
import { exportIdentity, IdentityFileError, importIdentity } from '../../src-main/reload/identity';
import { makeIdentity, nodeIdOf, type TestIdentity } from '../support/certs';

const PASSPHRASE = 'correct horse battery staple';

/** What the code before this fix wrote: Node's encrypted PKCS#8 PEM (PBES2, PBKDF2 2,048 iterations). */
function oldFormat(privateKey: KeyObject, chain: Uint8Array[], passphrase: string): string {
  const key = privateKey.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase }) as string;
  const pem = (der: Uint8Array) =>
    `-----BEGIN CERTIFICATE-----\n${Buffer.from(der)
      .toString('base64')
      .replace(/(.{64})/g, '$1\n')
      .replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;
  return key + chain.map(pem).join('');
}

/** The key block's structure as `openssl asn1parse` prints it. */
function asn1(file: string): string {
  return execFileSync('openssl', ['asn1parse', '-in', file]).toString();
}

const pkcs8 = (key: KeyObject) => key.export({ format: 'der', type: 'pkcs8' });

let dir: string;
let id: TestIdentity;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'identity-kdf-'));
  id = await makeIdentity('ecdsa', [nodeIdOf(7)]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
const fileWith = (text: string) => {
  const file = join(dir, `id${++n}.pem`);
  writeFileSync(file, text, { mode: 0o600 });
  return file;
};

describe('identity file key derivation', () => {
  it('a new file uses PBES2 with PBKDF2-HMAC-SHA256, 600,000 iterations, a 16-byte salt and AES-256-CBC', async () => {
    const file = fileWith(exportIdentity(id.privateKey, [id.certificate], PASSPHRASE));
    const structure = asn1(file);
    expect(structure).toMatch(/OBJECT\s+:PBES2/);
    expect(structure).toMatch(/OBJECT\s+:PBKDF2/);
    expect(structure).toMatch(/prim: OCTET STRING\s+\[HEX DUMP\]:[0-9A-F]{32}\n/); // the salt
    expect(structure).toMatch(/INTEGER\s+:0927C0\n/); // 600000
    expect(structure).toMatch(/OBJECT\s+:hmacWithSHA256/);
    expect(structure).toMatch(/OBJECT\s+:aes-256-cbc/);
    // Node (OpenSSL) decrypts it as well as we do.
    const key = createPrivateKey({ key: readFileSync(file, 'utf8'), format: 'pem', passphrase: PASSPHRASE });
    expect(pkcs8(key)).toEqual(pkcs8(id.privateKey));
    expect(importIdentity(readFileSync(file, 'utf8'), PASSPHRASE).outdated).toBe(false);
  });

  it('an old file (PBKDF2, 2,048 iterations) is read, then rewritten in the new format with mode 0600', async () => {
    const file = fileWith(oldFormat(id.privateKey, [id.certificate], PASSPHRASE));
    expect(asn1(file)).toMatch(/INTEGER\s+:0800\n/); // 2048: what the old code wrote
    const opened = await openIdentityFile(file, PASSPHRASE);
    expect(pkcs8(opened.privateKey)).toEqual(pkcs8(id.privateKey));
    expect(opened.chain).toEqual([id.certificate]);
    expect(opened.rewritten).toBe(true);
    expect(asn1(file)).toMatch(/INTEGER\s+:0927C0\n/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const again = await openIdentityFile(file, PASSPHRASE); // now current: read, not rewritten
    expect(again.rewritten).toBe(false);
    expect(pkcs8(again.privateKey)).toEqual(pkcs8(id.privateKey));
  });

  it('a rewrite that fails leaves the old file byte for byte, and the identity is still usable', async () => {
    const old = oldFormat(id.privateKey, [id.certificate], PASSPHRASE);
    const file = fileWith(old);
    mkdirSync(`${file}.new`); // where the new file would be written first: now it cannot be
    const opened = await openIdentityFile(file, PASSPHRASE);
    expect(pkcs8(opened.privateKey)).toEqual(pkcs8(id.privateKey));
    expect(opened.rewritten).toBe(false);
    expect(opened.rewriteError).toBeInstanceOf(Error);
    expect(readFileSync(file, 'utf8')).toBe(old);
  });

  it('a wrong passphrase never rewrites the file', async () => {
    const old = oldFormat(id.privateKey, [id.certificate], PASSPHRASE);
    const file = fileWith(old);
    await expect(openIdentityFile(file, 'not the passphrase')).rejects.toMatchObject({ reason: 'passphrase' });
    expect(readFileSync(file, 'utf8')).toBe(old);
  });

  it('reads what OpenSSL writes with other PBKDF2 PRFs and AES sizes (outdated), refuses scrypt and PBES1', () => {
    const plain = join(dir, 'plain.pem');
    writeFileSync(plain, id.privateKey.export({ format: 'pem', type: 'pkcs8' }));
    const chain = pem('CERTIFICATE', id.certificate);
    const openssl = (...args: string[]) =>
      execFileSync('openssl', ['pkcs8', '-topk8', '-in', plain, '-passout', `pass:${PASSPHRASE}`, ...args]).toString();
    for (const args of [
      ['-v2', 'aes-128-cbc', '-v2prf', 'hmacWithSHA1', '-iter', '10000'],
      ['-v2', 'aes-192-cbc', '-v2prf', 'hmacWithSHA512', '-iter', '2048'],
    ]) {
      const read = importIdentity(openssl(...args) + chain, PASSPHRASE);
      expect(pkcs8(read.privateKey)).toEqual(pkcs8(id.privateKey));
      expect(read.outdated).toBe(true);
    }
    const stronger = importIdentity(
      openssl('-v2', 'aes-256-cbc', '-v2prf', 'hmacWithSHA256', '-iter', '700000') + chain,
      PASSPHRASE,
    );
    expect(stronger.encryption).toMatchObject({ prf: 'sha256', iterations: 700_000, cipher: 'aes-256-cbc' });
    expect(stronger.encryption.salt).toHaveLength(8); // OpenSSL 3.0's default salt: below the 16 bytes we write
    expect(stronger.outdated).toBe(true);
    for (const args of [
      ['-scrypt', '-scrypt_N', '16384'],
      ['-v1', 'PBE-SHA1-3DES'],
    ]) {
      expect(() => importIdentity(openssl(...args) + chain, PASSPHRASE)).toThrow(
        expect.objectContaining({ name: 'IdentityFileError', reason: 'encryption' }),
      );
    }
    const truncated = openssl('-v2', 'aes-256-cbc').replace(/\n[A-Za-z0-9+/=]+\n-----END/, '\n-----END');
    expect(() => importIdentity(truncated + chain, PASSPHRASE)).toThrow(
      expect.objectContaining({ reason: 'encryption' }),
    );
  });

  it('a file demanding 100,000,000 iterations is refused before any is run', async () => {
    const text = pem('ENCRYPTED PRIVATE KEY', encryptedKeyInfo(100_000_000)) + pem('CERTIFICATE', id.certificate);
    const started = Date.now();
    const refusal = (() => {
      try {
        return importIdentity(text, PASSPHRASE);
      } catch (error) {
        return error;
      }
    })();
    expect(refusal).toBeInstanceOf(IdentityFileError);
    expect(refusal).toMatchObject({ reason: 'kdf-cost' });
    expect((refusal as Error).message).toMatch(/iterations/);
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});

const pem = (label: string, der: Uint8Array) =>
  `-----BEGIN ${label}-----\n${Buffer.from(der).toString('base64')}\n-----END ${label}-----\n`;

/** DER, written here independently of the code under test. */
function tlv(tag: number, ...contents: Uint8Array[]): Uint8Array {
  const body = Buffer.concat(contents);
  const n = body.length;
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...length]), body]);
}
const seq = (...c: Uint8Array[]) => tlv(0x30, ...c);
const oid = (hex: string) => tlv(0x06, Buffer.from(hex, 'hex'));
const integer = (value: number) => {
  const bytes: number[] = [];
  for (let v = value; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  if (bytes[0]! & 0x80) bytes.unshift(0);
  return tlv(0x02, Buffer.from(bytes));
};

/** An EncryptedPrivateKeyInfo (PBES2, PBKDF2-HMAC-SHA256, AES-256-CBC) asking for `iterations`. */
function encryptedKeyInfo(iterations: number): Uint8Array {
  return seq(
    seq(
      oid('2a864886f70d01050d'), // PBES2
      seq(
        seq(
          oid('2a864886f70d01050c'), // PBKDF2
          seq(tlv(0x04, Buffer.alloc(16, 1)), integer(iterations), seq(oid('2a864886f70d0209'), tlv(0x05))),
        ),
        seq(oid('60864801650304012a'), tlv(0x04, Buffer.alloc(16, 2))), // aes-256-cbc
      ),
    ),
    tlv(0x04, Buffer.alloc(144, 3)),
  );
}
