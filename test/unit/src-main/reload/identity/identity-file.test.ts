/** Identity export/import: encrypted PKCS#8 + PEM chain that OpenSSL reads. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  exportIdentity,
  generateIdentityKeys,
  IdentityFileError,
  importIdentity,
} from '../../../../../src-main/reload/identity';
import { makeIdentity, nodeIdOf } from '../../../../support/certs';

describe('identity files', () => {
  it.each(['rsa', 'ecdsa'] as const)('%s: export, read back, and OpenSSL agrees on the key', async (kind) => {
    const id = await makeIdentity(kind, [nodeIdOf(1)]);
    const text = exportIdentity(id.privateKey, [id.certificate], 'a long passphrase');
    expect(text).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
    expect(text).not.toMatch(/BEGIN PRIVATE KEY/);
    const back = importIdentity(text, 'a long passphrase');
    expect(back.chain).toEqual([id.certificate]);
    expect(back.privateKey.export({ format: 'der', type: 'pkcs8' })).toEqual(
      id.privateKey.export({ format: 'der', type: 'pkcs8' }),
    );
    const dir = mkdtempSync(join(tmpdir(), 'identity-'));
    const file = join(dir, 'id.pem');
    writeFileSync(file, text);
    const keyPub = execFileSync('openssl', [
      'pkey',
      '-in',
      file,
      '-passin',
      'pass:a long passphrase',
      '-pubout',
    ]).toString();
    const certPub = execFileSync('openssl', ['x509', '-in', file, '-pubkey', '-noout']).toString();
    expect(keyPub).toBe(certPub);
  });

  it('refuses a wrong passphrase, a foreign certificate, missing parts and weak passphrases', async () => {
    const id = await makeIdentity('ecdsa', [nodeIdOf(1)]);
    const other = await makeIdentity('ecdsa', [nodeIdOf(2)]);
    const text = exportIdentity(id.privateKey, [id.certificate], 'a long passphrase');
    expect(() => importIdentity(text, 'not the passphrase')).toThrow(expect.objectContaining({ reason: 'passphrase' }));
    const swapped = exportIdentity(id.privateKey, [other.certificate], 'a long passphrase');
    expect(() => importIdentity(swapped, 'a long passphrase')).toThrow(
      expect.objectContaining({ reason: 'key-mismatch' }),
    );
    expect(() => importIdentity(text.replace(/-----BEGIN CERTIFICATE-----[\s\S]*$/, ''), 'a long passphrase')).toThrow(
      expect.objectContaining({ reason: 'no-certificate' }),
    );
    const plain = (await generateIdentityKeys('ecdsa')).privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    expect(() => importIdentity(plain, 'x')).toThrow(IdentityFileError);
    expect(() => exportIdentity(id.privateKey, [id.certificate], 'short')).toThrow(/at least 8/);
  });
});
