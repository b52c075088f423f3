/**
 * Two installations (data folders) on one machine share the OS keychain and its service name but never an
 * entry: each prefixes its accounts with its installation id. Against the real Secret Service
 * (scripts/with-keyring.sh).
 */
import { randomUUID } from 'node:crypto';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { findCredentialsAsync } from '@napi-rs/keyring';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  INSTALLATION_ID_FILE,
  InstallationIdInvalidError,
  installationId,
} from '../../../../../src-main/app/credentials/installation-id';
import { KeyringCredentialStore } from '../../../../../src-main/app/credentials/keyring-store';
import { openInstallationCredentials } from '../../../../../src-main/app/credentials/namespaced-store';
import { tempDir } from '../../../../support/fixtures';

if (process.platform === 'linux' && !process.env.DBUS_SESSION_BUS_ADDRESS) {
  throw new Error(
    'namespaced-store.test.ts needs a real Secret Service: run it under scripts/with-keyring.sh ' +
      '(bash scripts/with-keyring.sh npx vitest run --project unit test/unit/src-main/app/credentials)',
  );
}

const service = `org.reload-softphone.test.${randomUUID()}`;
let dir: Awaited<ReturnType<typeof tempDir>>;

beforeAll(async () => {
  dir = await tempDir('namespaced-');
});

afterAll(async () => {
  const raw = new KeyringCredentialStore(service);
  for (const entry of await findCredentialsAsync(service)) await raw.delete(entry.account);
  await dir?.remove();
});

describe('installation id', () => {
  it('is created once per data folder and kept', async () => {
    const a = await installationId(join(dir.path, 'a'));
    expect(a).toMatch(/^[0-9a-f-]{36}$/);
    expect(await installationId(join(dir.path, 'a'))).toBe(a);
    expect((await readFile(join(dir.path, 'a', INSTALLATION_ID_FILE), 'utf8')).trim()).toBe(a);
    expect(await installationId(join(dir.path, 'b'))).not.toBe(a);
  });

  it('agrees between concurrent first starts on one folder', async () => {
    for (let round = 0; round < 10; round++) {
      const folder = join(dir.path, `race-${round}`);
      const ids = await Promise.all(Array.from({ length: 16 }, () => installationId(folder)));
      expect(new Set(ids).size).toBe(1);
      expect((await readdir(folder)).sort()).toEqual([INSTALLATION_ID_FILE]);
    }
  });

  it('refuses a damaged file and leaves it as it was', async () => {
    const folder = join(dir.path, 'damaged');
    await installationId(folder);
    const path = join(folder, INSTALLATION_ID_FILE);
    await writeFile(path, 'not an id\n');
    await expect(installationId(folder)).rejects.toBeInstanceOf(InstallationIdInvalidError);
    expect(await readFile(path, 'utf8')).toBe('not an id\n');
  });
});

describe('namespaced credential store', () => {
  it('keeps two installations apart in one keychain service', async () => {
    const a = await openInstallationCredentials({ dataDir: join(dir.path, 'one'), service });
    const b = await openInstallationCredentials({ dataDir: join(dir.path, 'two'), service });
    expect(a.namespace).not.toBe(b.namespace);
    await a.set('identity-key/o.example/alice@o.example', 'secret of one');
    await b.set('identity-key/o.example/alice@o.example', 'secret of two');
    expect(await a.get('identity-key/o.example/alice@o.example')).toBe('secret of one');
    expect(await b.get('identity-key/o.example/alice@o.example')).toBe('secret of two');

    const stored = (await findCredentialsAsync(service)).map((c) => c.account).sort();
    expect(stored).toEqual(
      [
        `${a.namespace}/identity-key/o.example/alice@o.example`,
        `${b.namespace}/identity-key/o.example/alice@o.example`,
      ].sort(),
    );

    expect(await a.delete('identity-key/o.example/alice@o.example')).toBe(true);
    expect(await a.get('identity-key/o.example/alice@o.example')).toBeUndefined();
    expect(await b.get('identity-key/o.example/alice@o.example')).toBe('secret of two');

    // The same folder opened again (a restart) is the same installation.
    const again = await openInstallationCredentials({ dataDir: join(dir.path, 'two'), service });
    expect(await again.get('identity-key/o.example/alice@o.example')).toBe('secret of two');
  });
});
