/**
 * The device identity end to end: enroll against a real overlay server over HTTPS, keep the key and the
 * password in the real OS keychain (Secret Service; run under scripts/with-keyring.sh), load, renew,
 * export and import.
 */
import { randomBytes } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyringCredentialStore } from '../../src-main/app/credentials/keyring-store';
import { IdentityModeError, IdentityService } from '../../src-main/app/identity/identity-service';
import { AccountStore } from '../../src-main/host/enrollment/account-store';
import { runOverlayCli } from '../../src-main/host/overlay-cli';
import { OverlayDir } from '../../src-main/host/overlay/overlay-dir';
import { startOverlayServer, type RunningOverlayServer } from '../../src-main/host/overlay/overlay-server';
import {
  CertificateRejectedError,
  fetchConfiguration,
  IdentityFileError,
  UserNameCharacterError,
  UserNameDomainError,
  type OverlayConfiguration,
} from '../../src-main/reload';
import { memoryLogger, tempDir } from '../support/fixtures';

if (!process.env.DBUS_SESSION_BUS_ADDRESS) {
  throw new Error('these tests use the real OS keychain: run them under scripts/with-keyring.sh (npm test does)');
}

const OVERLAY = 'identity.example.org';
let dir: Awaited<ReturnType<typeof tempDir>>;
let server: RunningOverlayServer;
let config: OverlayConfiguration;
let caPem: string;
let service: IdentityService;
let store: KeyringCredentialStore;

beforeAll(async () => {
  dir = await tempDir('identity-');
  await runOverlayCli(
    ['init', OVERLAY, '--dir', `${dir.path}/overlay`, '--port', '0', '--validity-days', '30'],
    () => undefined,
  );
  const overlay = await OverlayDir.open(`${dir.path}/overlay`);
  const accounts = new AccountStore(overlay.path('accounts'));
  await accounts.addUser(`erin@${OVERLAY}`, 'erins long password');
  accounts.close();
  server = await startOverlayServer(overlay, memoryLogger().log, { port: 0 });
  caPem = await readFile(overlay.path('caCert'), 'utf8');
  config = await fetchConfiguration({
    overlayName: OVERLAY,
    url: `${server.url}/.well-known/reload-config`,
    tlsCa: [caPem],
  });
  // The enrollment URL names the overlay; point it at the test server (same certificate names it too).
  config = { ...config, enrollmentServers: [`${server.url}/enroll`] };
  store = await KeyringCredentialStore.open(`org.reload-softphone.test.${randomBytes(4).toString('hex')}`);
  service = new IdentityService(store, `${dir.path}/identities`);
}, 60_000);

afterAll(async () => {
  await service?.forget(OVERLAY, `erin@${OVERLAY}`);
  await server?.close();
  await dir?.remove();
});

describe('device identity', () => {
  it('enrolls, keeps the private key only in the keychain, and loads it back', async () => {
    const enrolled = await service.enroll({
      config,
      userName: `erin@${OVERLAY}`,
      password: 'erins long password',
      tlsCa: [caPem],
    });
    expect(enrolled.validated.nodeIds).toHaveLength(1);
    const files = await readdir(`${dir.path}/identities/${OVERLAY}`);
    for (const f of files)
      expect(await readFile(`${dir.path}/identities/${OVERLAY}/${f}`, 'utf8')).not.toMatch(/PRIVATE KEY/);
    expect(await store.get(`identity-key/${OVERLAY}/erin@${OVERLAY}`)).toMatch(/BEGIN PRIVATE KEY/);
    const loaded = await service.load(config, `erin@${OVERLAY}`);
    expect(loaded?.certificate).toEqual(enrolled.certificate);
    expect(loaded?.keys.privateKey.export({ format: 'der', type: 'pkcs8' })).toEqual(
      enrolled.keys.privateKey.export({ format: 'der', type: 'pkcs8' }),
    );
  });

  it('renews before expiry with the password from the keychain, keeping the Node-ID', async () => {
    const current = await service.load(config, `erin@${OVERLAY}`);
    if (!current) throw new Error('no identity');
    expect(service.renewalDue(current)).toBe(false);
    expect(service.renewalDue(current, new Date(Date.now() + 25 * 86_400_000))).toBe(true);
    const renewed = await service.renew(current, config, [caPem]);
    expect(renewed.validated.nodeIds).toEqual(current.validated.nodeIds);
    expect(renewed.certificate).not.toEqual(current.certificate);
  });

  it('exports and imports an identity; a wrong passphrase or a foreign certificate changes nothing', async () => {
    const current = await service.load(config, `erin@${OVERLAY}`);
    if (!current) throw new Error('no identity');
    const file = await service.exportFile(current, 'export passphrase');
    await expect(service.importFile(config, file, 'wrong passphrase')).rejects.toBeInstanceOf(IdentityFileError);
    const imported = await service.importFile(config, file, 'export passphrase');
    expect(imported.certificate).toEqual(current.certificate);
    const foreignConfig = { ...config, rootCerts: [], selfSignedPermitted: false };
    await expect(service.importFile(foreignConfig, file, 'export passphrase')).rejects.toBeInstanceOf(
      CertificateRejectedError,
    );
    expect((await service.load(config, `erin@${OVERLAY}`))?.certificate).toEqual(current.certificate);
  });

  it('self-signed identities only where the overlay permits them', async () => {
    await expect(service.createSelfSigned({ config, userName: `erin@${OVERLAY}` })).rejects.toBeInstanceOf(
      IdentityModeError,
    );
    const open = { ...config, selfSignedPermitted: true, selfSignedDigest: 'sha256' as const };
    const self = await service.createSelfSigned({ config: open, userName: `frank@${OVERLAY}` });
    expect(self.validated.selfSigned).toBe(true);
    await service.forget(OVERLAY, `frank@${OVERLAY}`);
  });

  it('refuses a user name outside the user-name rule before making a key or asking the server', async () => {
    const open = { ...config, selfSignedPermitted: true, selfSignedDigest: 'sha256' as const };
    await expect(service.createSelfSigned({ config: open, userName: `<img/src=x>@${OVERLAY}` })).rejects.toThrow(
      UserNameCharacterError,
    );
    await expect(
      service.enroll({ config, userName: 'erin@elsewhere.example', password: 'a long enough password' }),
    ).rejects.toThrow(UserNameDomainError);
    expect(await service.load(open, `<img/src=x>@${OVERLAY}`)).toBeUndefined();
  });
});
