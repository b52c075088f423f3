/**
 * The app's identity side (createIdentityApi) end to end: a real operator overlay (`overlay init`, accounts,
 * the HTTPS configuration and enrollment server), the real OS keychain (Secret Service; run under
 * scripts/with-keyring.sh) namespaced by installation, and the data folder on disk. Every request and every
 * refusal a person can meet, and the promise that no key or password lands in the data folder.
 */
import { randomUUID } from 'node:crypto';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { findCredentialsAsync } from '@napi-rs/keyring';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeychainUnavailableError, type CredentialStore } from '../../src-main/app/credentials/credential-store';
import { KeyringCredentialStore } from '../../src-main/app/credentials/keyring-store';
import { NamespacedCredentialStore } from '../../src-main/app/credentials/namespaced-store';
import { installationId } from '../../src-main/app/credentials/installation-id';
import type { IdentityApi, IdentityStepName } from '../../src-main/app/identity/identity-api';
import { createIdentityApi, type IdentityApiOptions } from '../../src-main/app/identity/identity-manager';
import { UserFacingError } from '../../src-main/app/user-facing-error';
import { AccountStore } from '../../src-main/host/enrollment/account-store';
import { runOverlayCli } from '../../src-main/host/overlay-cli';
import { OverlayDir } from '../../src-main/host/overlay/overlay-dir';
import { startOverlayServer, type RunningOverlayServer } from '../../src-main/host/overlay/overlay-server';
import { LOCAL_OVERLAY_NAME, signedConfigurationDocument } from '../../src-main/reload';
import * as v from 'valibot';
import { CertificateInfoSchema, IdentityStatusSchema, type IdentityStatus } from '../../src-shared/model/identity';
import { OverlayOfferSchema, type OverlayOffer } from '../../src-shared/model/overlay';
import type { UserErrorCode } from '../../src-shared/model/user-errors';
import { memoryLogger, tempDir } from '../support/fixtures';

if (!process.env.DBUS_SESSION_BUS_ADDRESS) {
  throw new Error('these tests use the real OS keychain: run them under scripts/with-keyring.sh (npm test does)');
}

const OVERLAY = 'app-identity.example.org';
const PASSWORD = 'alices long password';
const SERVICE = `org.reload-softphone.test.${randomUUID()}`;

let root: Awaited<ReturnType<typeof tempDir>>;
let overlayDir: OverlayDir;
let server: RunningOverlayServer;
let caPem: string;
let configUrl: string;
let keyring: KeyringCredentialStore;

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

beforeAll(async () => {
  root = await tempDir('app-identity-');
  const port = await freePort();
  // Certificates valid for one day: renewal is due at once (a week before expiry), so start() renews.
  await runOverlayCli(
    [
      'init',
      OVERLAY,
      '--dir',
      `${root.path}/overlay`,
      '--port',
      String(port),
      '--enrollment-url',
      `https://127.0.0.1:${port}/enroll`,
      '--validity-days',
      '1',
    ],
    () => undefined,
  );
  overlayDir = await OverlayDir.open(`${root.path}/overlay`);
  const accounts = new AccountStore(overlayDir.path('accounts'));
  for (const user of ['alice', 'bob', 'carol', 'dave', 'erin', 'skew'])
    await accounts.addUser(`${user}@${OVERLAY}`, PASSWORD);
  accounts.close();
  server = await startOverlayServer(overlayDir, memoryLogger().log, { port });
  caPem = await readFile(overlayDir.path('caCert'), 'utf8');
  configUrl = `${server.url}/.well-known/reload-config`;
  keyring = await KeyringCredentialStore.open(SERVICE);
}, 60_000);

afterAll(async () => {
  await server?.close();
  for (const entry of await findCredentialsAsync(SERVICE).catch(() => [])) await keyring.delete(entry.account);
  await root?.remove();
});

interface Harness {
  api: IdentityApi;
  dataDir: string;
  emitted: IdentityStatus[];
  steps: [IdentityStepName, string][];
  changes: [string | undefined, string][];
  namespace: string;
  forgotten: string[];
  /** Everything the API logged. */
  lines: Record<string, unknown>[];
}

async function harness(name: string, extra: Partial<IdentityApiOptions> = {}): Promise<Harness> {
  const dataDir = join(root.path, name);
  const namespace = await installationId(dataDir);
  const store: CredentialStore = new NamespacedCredentialStore(keyring, namespace);
  const logger = memoryLogger();
  const h: Harness = {
    lines: logger.lines,
    dataDir,
    namespace,
    emitted: [],
    steps: [],
    changes: [],
    forgotten: [],
    api: undefined as unknown as IdentityApi,
  };
  h.api = createIdentityApi({
    dataDir,
    credentials: async () => store,
    log: logger.log,
    emit: (status) => h.emitted.push(status),
    beforeForget: (id) => void h.forgotten.push(id),
    fetch: { tlsCa: [caPem] },
    ...extra,
  });
  h.api.onStep((step, status) => h.steps.push([step, status]));
  h.api.onActiveChanged((active, cause) => h.changes.push([active?.userName, cause]));
  return h;
}

/** This installation's keychain accounts, straight from the Secret Service. */
async function accountsOf(namespace: string): Promise<string[]> {
  return (await findCredentialsAsync(SERVICE))
    .map((c) => c.account)
    .filter((a) => a.startsWith(`${namespace}/`))
    .sort();
}

/** Every file under `dir` with its contents. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    out[path] = await readFile(path, 'utf8');
  }
  return out;
}

/** No private key and no password anywhere in the data folder, nor in the log. */
async function expectNoSecrets(h: Harness, secrets: string[] = [PASSWORD]): Promise<void> {
  const log = JSON.stringify(h.lines);
  // Messages may name the file format ("no ENCRYPTED PRIVATE KEY block"), never hold a key.
  expect(log).not.toMatch(/-----BEGIN [A-Z ]*PRIVATE KEY-----/);
  for (const secret of secrets) expect(log).not.toContain(secret);
  const files = await snapshot(h.dataDir);
  expect(Object.keys(files).length).toBeGreaterThan(0);
  for (const [path, text] of Object.entries(files)) {
    expect(text, path).not.toMatch(/PRIVATE KEY/);
    for (const secret of secrets) expect(text, path).not.toContain(secret);
  }
}

/** A handler's answer (a value or a promise) must be a refusal with `code`. */
async function refusal(answer: unknown, code: UserErrorCode): Promise<UserFacingError> {
  const error = await Promise.resolve(answer).then(
    () => {
      throw new Error(`expected a refusal with ${code}`);
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UserFacingError);
  const refused = error as UserFacingError;
  expect({ reason: refused.reason, message: refused.message }).toMatchObject({ reason: code });
  // For a person: no stack, no internal field names.
  expect(refused.message).not.toMatch(/userName|acceptSigner|payload|\bat .*\.ts:\d+/);
  return refused;
}

async function discover(h: Harness, source = configUrl): Promise<OverlayOffer> {
  return h.api.handlers['overlay.discover']({ source });
}

function operator(offer: OverlayOffer) {
  return { kind: 'operator' as const, offer: offer.offer, acceptSigner: offer.signers[0]!.fingerprint };
}

describe('overlay.discover', () => {
  it('offers an overlay found by its configuration URL, with the signer to accept', async () => {
    const h = await harness('discover-url');
    const offer = await discover(h);
    expect(offer).toMatchObject({ overlay: OVERLAY, url: configUrl, enrollment: true, selfSignedPermitted: false });
    // What the dispatcher checks before the answer leaves main.
    expect(v.safeParse(OverlayOfferSchema, offer).success).toBe(true);
    expect(offer.signers).toHaveLength(1);
    expect(offer.signers[0]!.fingerprint).toMatch(/^[0-9A-F]{2}(:[0-9A-F]{2}){31}$/);
    expect(offer.signers[0]!.subject).toBe(`admin@${OVERLAY}`);
    expect(Date.parse(offer.signers[0]!.notAfter)).toBeGreaterThan(Date.now());
    expect(h.steps).toEqual([
      ['configuration', 'active'],
      ['configuration', 'done'],
    ]);
  });

  it('finds an overlay by name through DNS SRV and the well-known URL', async () => {
    const h = await harness('discover-name', {
      fetch: {
        tlsCa: [caPem],
        resolveSrv: async (name) => {
          expect(name).toBe(`_reload-config._tcp.${OVERLAY}`);
          return [{ name: '127.0.0.1', port: server.port, priority: 0, weight: 0 }];
        },
      },
    });
    const offer = await discover(h, OVERLAY);
    expect(offer.overlay).toBe(OVERLAY);
    expect(offer.url).toBe(`https://${OVERLAY}/.well-known/reload-config`);
  });

  it('says overlay-unreachable when nothing answers, and configuration-invalid for a tampered document', async () => {
    const h = await harness('discover-bad');
    const closed = await freePort();
    const unreachable = await refusal(
      discover(h, `https://127.0.0.1:${closed}/.well-known/reload-config`),
      'overlay-unreachable',
    );
    expect(unreachable.message).toContain(`127.0.0.1:${closed}`);
    expect(h.steps.at(-1)).toEqual(['configuration', 'failed']);

    const original = await readFile(overlayDir.path('config'), 'utf8');
    try {
      await writeFile(overlayDir.path('config'), original.replace('<max-message-size>', '<max-message-size>1'));
      await refusal(discover(h), 'configuration-invalid');
    } finally {
      await writeFile(overlayDir.path('config'), original);
    }
  });
});

describe('identity.enroll', () => {
  it('refuses a wrong password and leaves nothing in the keychain or the data folder', async () => {
    const h = await harness('wrong-password');
    const offer = await discover(h);
    const before = await snapshot(h.dataDir);
    const refused = await refusal(
      h.api.handlers['identity.enroll']({ overlay: operator(offer), userName: 'bob', password: 'not the password' }),
      'wrong-password',
    );
    // The server answers unknown users the same way on purpose: the message must not claim either.
    expect(refused.message).toMatch(/user name or password is wrong/);
    await refusal(
      h.api.handlers['identity.enroll']({ overlay: operator(offer), userName: 'nobody', password: PASSWORD }),
      'wrong-password',
    );
    expect(await accountsOf(h.namespace)).toEqual([]);
    expect(await snapshot(h.dataDir)).toEqual(before);
    expect(JSON.stringify(h.lines)).not.toContain(PASSWORD);
    expect(h.steps.at(-1)).toEqual(['certificate', 'failed']);
    expect(h.changes).toEqual([]);
    expect(await h.api.active()).toBeUndefined();
  });

  it('refuses an unknown offer, a different signer and bad user names before asking the server', async () => {
    const h = await harness('enroll-refusals');
    const offer = await discover(h);
    await refusal(
      h.api.handlers['identity.enroll']({
        overlay: { ...operator(offer), offer: 'A'.repeat(24) },
        userName: 'bob',
        password: PASSWORD,
      }),
      'offer-expired',
    );
    await refusal(
      h.api.handlers['identity.enroll']({
        overlay: { ...operator(offer), acceptSigner: 'AB:'.repeat(31) + 'AB' },
        userName: 'bob',
        password: PASSWORD,
      }),
      'signer-changed',
    );
    const spaced = await refusal(
      h.api.handlers['identity.enroll']({ overlay: operator(offer), userName: 'bob smith', password: PASSWORD }),
      'user-name-invalid',
    );
    expect(spaced.message).toMatch(/white space/);
    const foreign = await refusal(
      h.api.handlers['identity.enroll']({
        overlay: operator(offer),
        userName: 'bob@other.example',
        password: PASSWORD,
      }),
      'user-name-invalid',
    );
    expect(foreign.message).toContain(OVERLAY);
    expect(await accountsOf(h.namespace)).toEqual([]);
  });

  it('expires offers after 10 minutes', async () => {
    let shift = 0;
    const h = await harness('offer-expiry', { now: () => new Date(Date.now() + shift) });
    const offer = await discover(h);
    shift = 10 * 60_000 + 1;
    await refusal(
      h.api.handlers['identity.enroll']({ overlay: operator(offer), userName: 'bob', password: PASSWORD }),
      'offer-expired',
    );
  });

  it('says clock-skew when the issued certificate does not fit our clock, and stores nothing', async () => {
    // Behind: the clock goes back after discovery (the configuration's signer is only minutes old). Ahead: from
    // the start (an offer is kept for 10 minutes by our clock).
    for (const [skew, before] of [
      [-10 * 60_000, false],
      [60 * 60_000, true],
    ] as const) {
      let shift = before ? skew : 0;
      const h = await harness(`skew${skew}`, { now: () => new Date(Date.now() + shift) });
      const offer = await discover(h);
      shift = skew;
      const refused = await refusal(
        h.api.handlers['identity.enroll']({ overlay: operator(offer), userName: 'skew', password: PASSWORD }),
        'clock-skew',
      );
      expect(refused.message).toMatch(/clock/);
      expect(await accountsOf(h.namespace)).toEqual([]);
      expect(await h.api.active()).toBeUndefined();
    }
  });

  it('says keychain-unavailable before making a key when the keychain cannot be opened', async () => {
    const h = await harness('no-keychain', {
      credentials: () => Promise.reject(new KeychainUnavailableError('no Secret Service in this test')),
    });
    const offer = await discover(h);
    const refused = await refusal(
      h.api.handlers['identity.enroll']({ overlay: operator(offer), userName: 'bob', password: PASSWORD }),
      'keychain-unavailable',
    );
    expect(refused.message).toContain('no Secret Service in this test');
    expect((await h.api.status()).keychain).toBe('unavailable');
  });

  it('enrolls "alice" as alice@<overlay>: key in the keychain, certificate and profile in the data folder', async () => {
    const h = await harness('enroll');
    const offer = await discover(h);
    const info = await h.api.handlers['identity.enroll']({
      overlay: operator(offer),
      userName: 'alice',
      password: PASSWORD,
    });
    expect(info).toMatchObject({
      id: `${OVERLAY}/alice@${OVERLAY}`,
      overlay: OVERLAY,
      userName: `alice@${OVERLAY}`,
      selfSigned: false,
      keyAlgorithm: 'ECDSA P-256',
      active: true,
      daysLeft: 0,
      renewal: { lastError: null },
    });
    expect(info.issuer).toContain(OVERLAY);
    expect(info.nodeIds).toHaveLength(1);
    expect(info.nodeIds[0]).toMatch(/^[0-9a-f]{32}$/);
    expect(info.fingerprint).toMatch(/^[0-9A-F]{2}(:[0-9A-F]{2}){31}$/);
    expect(h.steps.slice(2)).toEqual([
      ['key-pair', 'active'],
      ['key-pair', 'done'],
      ['certificate', 'active'],
      ['certificate', 'done'],
    ]);
    expect(h.changes).toEqual([[`alice@${OVERLAY}`, 'created']]);
    expect(h.emitted.at(-1)?.certificates.map((c) => c.id)).toEqual([info.id]);
    expect(v.safeParse(CertificateInfoSchema, info).success).toBe(true);
    expect(v.safeParse(IdentityStatusSchema, h.emitted.at(-1)).success).toBe(true);
    expect(await accountsOf(h.namespace)).toEqual([
      `${h.namespace}/enrollment-password/${OVERLAY}/alice@${OVERLAY}`,
      `${h.namespace}/identity-key/${OVERLAY}/alice@${OVERLAY}`,
    ]);

    const active = await h.api.active();
    expect(active).toMatchObject({ id: info.id, overlay: OVERLAY, local: false, source: configUrl });
    expect(active?.signer).toBe(offer.signers[0]!.fingerprint);
    expect(active?.configDocument).toContain('instance-name');
    expect(active?.config.instanceName).toBe(OVERLAY);
    const profile = JSON.parse(await readFile(join(h.dataDir, 'identity', 'profiles.json'), 'utf8')) as unknown;
    expect(profile).toMatchObject({
      active: { overlay: OVERLAY, userName: `alice@${OVERLAY}` },
      overlays: [{ name: OVERLAY, source: configUrl, signer: offer.signers[0]!.fingerprint, local: false }],
    });
    await expectNoSecrets(h);

    // A new instance on the same data folder (a restart) finds the identity without asking anything.
    const again = await harness('enroll');
    expect((await again.api.active())?.id).toBe(info.id);
    expect((await again.api.status()).certificates.map((c) => c.id)).toEqual([info.id]);
  });
});

describe('renew, export, forget, import', () => {
  let h: Harness;
  let offer: OverlayOffer;
  let nodeId: string;
  let id: string;

  beforeAll(async () => {
    h = await harness('lifecycle');
    offer = await discover(h);
    const info = await h.api.handlers['identity.enroll']({
      overlay: operator(offer),
      userName: 'carol',
      password: PASSWORD,
    });
    nodeId = info.nodeIds[0]!;
    id = info.id;
  }, 30_000);

  it('renews now: a new certificate with the same Node-ID, and the peer told', async () => {
    const before = (await h.api.status()).certificates[0]!;
    const renewed = await h.api.handlers['identity.renew']({ id });
    expect(renewed.nodeIds).toEqual([nodeId]);
    expect(renewed.fingerprint).not.toBe(before.fingerprint);
    expect(h.changes.at(-1)).toEqual([`carol@${OVERLAY}`, 'renewed']);
  });

  it('exports an encrypted identity file and never writes it to the data folder', async () => {
    const file = await h.api.handlers['identity.export']({ id, passphrase: 'export passphrase' });
    expect(file.fileName).toBe(`carol@${OVERLAY}.reload-identity`);
    expect(file.text).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
    expect(file.text).not.toMatch(/BEGIN PRIVATE KEY/);
    await expectNoSecrets(h, [PASSWORD, 'export passphrase']);
    await refusal(
      h.api.handlers['identity.export']({ id: 'nobody@nowhere', passphrase: 'export passphrase' }),
      'identity-missing',
    );
  });

  it('moves to another device: refused there until its overlay is found, then the same Node-ID', async () => {
    const file = await h.api.handlers['identity.export']({ id, passphrase: 'export passphrase' });
    const other = await harness('other-device');
    const unknown = await refusal(
      other.api.handlers['identity.import']({ text: file.text, passphrase: 'export passphrase' }),
      'identity-file-invalid',
    );
    expect(unknown.message).toMatch(/find its overlay first/);
    expect(await accountsOf(other.namespace)).toEqual([]);
    const found = await discover(other);
    const imported = await other.api.handlers['identity.import']({
      text: file.text,
      passphrase: 'export passphrase',
      overlay: operator(found),
    });
    expect(imported).toMatchObject({ id, nodeIds: [nodeId], active: true });
    expect((await other.api.active())?.signer).toBe(found.signers[0]!.fingerprint);
    expect(await accountsOf(other.namespace)).toEqual([`${other.namespace}/identity-key/${OVERLAY}/carol@${OVERLAY}`]);
    await expectNoSecrets(other, [PASSWORD, 'export passphrase']);
  });

  it('forgets (peer stopped first), then imports the same Node-ID back into the remembered overlay', async () => {
    const file = await h.api.handlers['identity.export']({ id, passphrase: 'export passphrase' });
    const status = await h.api.handlers['identity.forget']({ id, confirm: true });
    expect(h.forgotten).toEqual([id]);
    expect(status.certificates).toEqual([]);
    expect(h.changes.at(-1)).toEqual([undefined, 'forgotten']);
    expect(await h.api.active()).toBeUndefined();
    expect(await accountsOf(h.namespace)).toEqual([]);
    const files = Object.keys(await snapshot(h.dataDir)).map((p) => p.slice(h.dataDir.length));
    expect(files.filter((p) => p.endsWith('.pem'))).toEqual([]);
    expect(files).toContain(`/identity/overlays/${OVERLAY}.xml`);

    await refusal(
      h.api.handlers['identity.import']({ text: file.text, passphrase: 'not it at all' }),
      'wrong-passphrase',
    );
    await refusal(
      h.api.handlers['identity.import']({ text: 'hello', passphrase: 'export passphrase' }),
      'identity-file-invalid',
    );
    // A certificate of this overlay does not pass the local overlay's rules.
    await refusal(
      h.api.handlers['identity.import']({
        text: file.text,
        passphrase: 'export passphrase',
        overlay: { kind: 'local' },
      }),
      'identity-file-invalid',
    );
    expect(await accountsOf(h.namespace)).toEqual([]);

    const imported = await h.api.handlers['identity.import']({ text: file.text, passphrase: 'export passphrase' });
    expect(imported).toMatchObject({ id, nodeIds: [nodeId], active: true });
    expect(h.changes.at(-1)).toEqual([`carol@${OVERLAY}`, 'imported']);
    expect((await h.api.active())?.userName).toBe(`carol@${OVERLAY}`);
    await expectNoSecrets(h, [PASSWORD, 'export passphrase']);
  });

  it('records a failed renewal in the status and publishes it', async () => {
    // An imported identity has no enrollment password in the keychain: renewal cannot enroll again.
    const emitted = h.emitted.length;
    await refusal(h.api.handlers['identity.renew']({ id }), 'identity-missing');
    const last = h.emitted.at(-1);
    expect(h.emitted.length).toBeGreaterThan(emitted);
    expect(last?.certificates[0]?.renewal.lastError?.code).toBe('identity-missing');
    expect((await h.api.status()).certificates[0]?.renewal.lastError?.code).toBe('identity-missing');
  });
});

describe('automatic renewal', () => {
  it('renews a certificate that is due when started, and reports a failure when the password changed', async () => {
    const h = await harness('auto-renew', { renewalCheckMs: 60 * 60_000 });
    const offer = await discover(h);
    const first = await h.api.handlers['identity.enroll']({
      overlay: operator(offer),
      userName: 'dave',
      password: PASSWORD,
    });
    h.api.start();
    // Generous: key generation and the server's password hashing share two cores with other test runs.
    await expect.poll(() => h.changes.at(-1)?.[1], { timeout: 40_000 }).toBe('renewed');
    const renewed = (await h.api.status()).certificates[0]!;
    expect(renewed.fingerprint).not.toBe(first.fingerprint);
    expect(renewed.nodeIds).toEqual(first.nodeIds);
    h.api.stop();

    const accounts = new AccountStore(overlayDir.path('accounts'));
    accounts.removeUser(`dave@${OVERLAY}`);
    await accounts.addUser(`dave@${OVERLAY}`, 'a changed long password');
    accounts.close();
    const restarted = await harness('auto-renew');
    restarted.api.start();
    await expect
      .poll(async () => (await restarted.api.status()).certificates[0]?.renewal.lastError?.code, { timeout: 40_000 })
      .toBe('wrong-password');
    expect(restarted.emitted.at(-1)?.certificates[0]?.renewal.lastError?.code).toBe('wrong-password');
    restarted.api.stop();
  }, 100_000);
});

describe('an expired configuration', () => {
  it('is fetched again from where it came from, and the newer one must come from the same signer', async () => {
    const original = await readFile(overlayDir.path('config'), 'utf8');
    const { signer } = overlayDir;
    const write = (sequence: number, days: number) =>
      writeFile(
        overlayDir.path('config'),
        signedConfigurationDocument(
          { ...overlayDir.configurationInput(), sequence, expiration: new Date(Date.now() + days * 86_400_000) },
          signer,
          signer,
        ),
      );
    try {
      await write(1, 1);
      let shift = 0;
      const h = await harness('expired-configuration', { now: () => new Date(Date.now() + shift) });
      const offer = await discover(h);
      const info = await h.api.handlers['identity.enroll']({
        overlay: operator(offer),
        userName: 'erin',
        password: PASSWORD,
      });
      const cached = join(h.dataDir, 'identity', 'overlays', `${OVERLAY}.xml`);
      expect(await readFile(cached, 'utf8')).toContain('sequence="1"');

      // Two days on, the cached configuration has expired; the server has sequence 2 by the same signer.
      await write(2, 30);
      shift = 2 * 86_400_000;
      await h.api.handlers['identity.export']({ id: info.id, passphrase: 'export passphrase' });
      expect(await readFile(cached, 'utf8')).toContain('sequence="2"');
    } finally {
      await writeFile(overlayDir.path('config'), original);
    }
  });
});

describe('identity.createSelfSigned', () => {
  it('makes a local-overlay identity from a user name alone', async () => {
    const h = await harness('local');
    const info = await h.api.handlers['identity.createSelfSigned']({ overlay: { kind: 'local' }, userName: 'erin' });
    expect(info).toMatchObject({
      userName: `erin@${LOCAL_OVERLAY_NAME}`,
      overlay: LOCAL_OVERLAY_NAME,
      selfSigned: true,
      issuer: 'self-signed',
      active: true,
    });
    expect(info.daysLeft).toBeGreaterThanOrEqual(364);
    expect(h.steps).toEqual([
      ['configuration', 'done'],
      ['key-pair', 'active'],
      ['key-pair', 'done'],
      ['certificate', 'active'],
      ['certificate', 'done'],
    ]);
    const active = await h.api.active();
    expect(active).toMatchObject({ local: true, source: 'embedded', signer: null, configDocument: undefined });
    // Renewal of a self-signed identity keeps its key, so its Node-ID (the key's digest) stays.
    const renewed = await h.api.handlers['identity.renew']({ id: info.id });
    expect(renewed.nodeIds).toEqual(info.nodeIds);
    await expectNoSecrets(h);
    await h.api.handlers['identity.forget']({ id: info.id, confirm: true });
    expect(await accountsOf(h.namespace)).toEqual([]);
  });

  it('refuses self-signed identities in an operator overlay that does not permit them', async () => {
    const h = await harness('self-signed-refused');
    const offer = await discover(h);
    await refusal(
      h.api.handlers['identity.createSelfSigned']({ overlay: operator(offer), userName: 'erin' }),
      'self-signed-not-permitted',
    );
    expect(await accountsOf(h.namespace)).toEqual([]);
  });
});

describe('the profiles file', () => {
  it('is moved aside, not deleted, when it is not ours to read', async () => {
    const h = await harness('corrupt');
    await h.api.handlers['identity.createSelfSigned']({ overlay: { kind: 'local' }, userName: 'frank' });
    const path = join(h.dataDir, 'identity', 'profiles.json');
    await writeFile(path, '{"version":1,"active":null,"overlays":[{"name":"../../etc"}]}');
    const again = await harness('corrupt');
    expect((await again.api.status()).certificates).toEqual([]);
    const aside = (await readdir(join(h.dataDir, 'identity'))).filter((f) => f.startsWith('profiles.json.corrupt-'));
    expect(aside).toHaveLength(1);
    expect((await stat(join(h.dataDir, 'identity', aside[0]!))).size).toBeGreaterThan(0);
  });
});
