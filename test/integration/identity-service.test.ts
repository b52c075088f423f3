/**
 * The device identity end to end: enroll against a real overlay server over HTTPS, keep the key and the
 * password in the real OS keychain (Secret Service; run under scripts/with-keyring.sh), load, renew,
 * export and import.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyringCredentialStore } from '../../src-main/app/credentials/keyring-store';
import { NamespacedCredentialStore } from '../../src-main/app/credentials/namespaced-store';
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

  it('forget removes the key, the password and the certificate file', async () => {
    const open = { ...config, selfSignedPermitted: true, selfSignedDigest: 'sha256' as const };
    await service.createSelfSigned({ config: open, userName: `gina@${OVERLAY}` });
    const path = service.certificatePath(OVERLAY, `gina@${OVERLAY}`);
    await expect(readFile(path, 'utf8')).resolves.toMatch(/BEGIN CERTIFICATE/);
    await service.forget(OVERLAY, `gina@${OVERLAY}`);
    expect(await store.get(`identity-key/${OVERLAY}/gina@${OVERLAY}`)).toBeUndefined();
    await expect(readFile(path, 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await service.load(open, `gina@${OVERLAY}`)).toBeUndefined();
  });

  it('keeps long names within the keychain limit (a digest instead of the names)', async () => {
    // Overlay name and user name near their limits: `identity-key/<overlay>/<user>` alone is over 256 characters.
    const overlay = `${'a'.repeat(63)}.${'b'.repeat(63)}.example.org`;
    const name = `${'m'.repeat(64)}@${overlay}`;
    const open = { ...config, instanceName: overlay, selfSignedPermitted: true, selfSignedDigest: 'sha256' as const };
    // Namespaced as the app does it: the prefix must still fit.
    const namespaced = new IdentityService(new NamespacedCredentialStore(store, randomUUID()), `${dir.path}/long`);
    const made = await namespaced.createSelfSigned({ config: open, userName: name });
    expect((await namespaced.load(open, name))?.certificate).toEqual(made.certificate);
    await namespaced.forget(overlay, name);
    expect(await namespaced.load(open, name)).toBeUndefined();
  });

  it('renews a self-signed identity with the same key, so its Node-ID stays', async () => {
    const open = { ...config, selfSignedPermitted: true, selfSignedDigest: 'sha256' as const };
    const made = await service.createSelfSigned({ config: open, userName: `hal@${OVERLAY}` });
    const renewed = await service.renew(made, open);
    expect(renewed.validated.nodeIds).toEqual(made.validated.nodeIds);
    expect(renewed.certificate).not.toEqual(made.certificate);
    await service.forget(OVERLAY, `hal@${OVERLAY}`);
  });
});
