/**
 * The identity requests through the real backend and its bridge (dispatcher, event hub, structuredClone in
 * place of the process boundary), the real OS keychain under the app's service (scripts/with-keyring.sh) and
 * a real operator overlay. Everything that crosses the bridge towards the renderer is recorded and scanned:
 * no private key and no password may ever be in an answer or an event; refusals arrive as their user error
 * code with a message for a person.
 */
import { readFile, readdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { findCredentialsAsync } from '@napi-rs/keyring';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_ID } from '../../src-main/app/app-identity';
import { createBackend, type Backend } from '../../src-main/app/backend';
import { installationId } from '../../src-main/app/credentials/installation-id';
import { AccountStore } from '../../src-main/host/enrollment/account-store';
import { runOverlayCli } from '../../src-main/host/overlay-cli';
import { OverlayDir } from '../../src-main/host/overlay/overlay-dir';
import { startOverlayServer, type RunningOverlayServer } from '../../src-main/host/overlay/overlay-server';
import type { BridgeTransport } from '../../src-shared/ipc/bridge';
import type { Result } from '../../src-shared/ipc/envelope';
import type { Channel, RequestOf, ResponseOf } from '../../src-shared/ipc/contract';
import { inProcessTransport, memoryLogger, tempDir } from '../support/fixtures';

if (!process.env.DBUS_SESSION_BUS_ADDRESS) {
  throw new Error('these tests use the real OS keychain: run them under scripts/with-keyring.sh (npm test does)');
}

const OVERLAY = 'bridge.example.org';
const PASSWORD = 'ivans long password';
const PASSPHRASE = 'ivans export passphrase';

let root: Awaited<ReturnType<typeof tempDir>>;
let server: RunningOverlayServer;
let backend: Backend;
let transport: BridgeTransport;
let dataDir: string;
/** Everything the renderer received: answers and events. */
const received: unknown[] = [];

beforeAll(async () => {
  root = await tempDir('app-identity-bridge-');
  const port = await freePort();
  // The enrollment URL names the server's loopback address: the overlay's name does not resolve here.
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
    ],
    () => undefined,
  );
  const overlay = await OverlayDir.open(`${root.path}/overlay`);
  const accounts = new AccountStore(overlay.path('accounts'));
  await accounts.addUser(`ivan@${OVERLAY}`, PASSWORD);
  accounts.close();
  server = await startOverlayServer(overlay, memoryLogger().log, { port });
  dataDir = join(root.path, 'data');
  backend = await createBackend({
    dataDir,
    mode: 'browser',
    appName: 'Reload Softphone',
    appVersion: '0.0.0-test',
    versions: { node: process.versions.node, electron: null, chrome: null },
    log: memoryLogger().log,
    fetch: { tlsCa: [await readFile(overlay.path('caCert'), 'utf8')] },
    network: { host: '127.0.0.1' },
    joinTimeoutMs: 3_000,
  });
  transport = inProcessTransport(backend);
  transport.subscribe((event) => received.push(event));
}, 60_000);

afterAll(async () => {
  await backend?.stop('test over');
  await server?.close();
  await root?.remove();
});

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

async function call<C extends Channel>(channel: C, payload: RequestOf<C>): Promise<Result> {
  const result = await transport.request({ channel, payload });
  received.push(result);
  return result;
}

async function ok<C extends Channel>(channel: C, payload: RequestOf<C>): Promise<ResponseOf<C>> {
  const result = await call(channel, payload);
  if (!result.ok) throw new Error(`${channel} refused: ${JSON.stringify(result.error)}`);
  return result.value as ResponseOf<C>;
}

async function ourAccounts(): Promise<string[]> {
  const namespace = await installationId(dataDir);
  return (await findCredentialsAsync(APP_ID))
    .map((c) => c.account)
    .filter((a) => a.startsWith(`${namespace}/`))
    .sort();
}

describe('identity over the bridge', () => {
  it('refuses a wrong password as wrong-password, with nothing stored', async () => {
    const offer = await ok('overlay.discover', { source: `${server.url}/.well-known/reload-config` });
    const result = await call('identity.enroll', {
      overlay: { kind: 'operator', offer: offer.offer, acceptSigner: offer.signers[0]!.fingerprint },
      userName: 'ivan',
      password: 'not the password',
    });
    expect(result).toMatchObject({ ok: false, error: { code: 'handler-failed', reason: 'wrong-password' } });
    expect(await ourAccounts()).toEqual([]);
    expect(await ok('identity.status', {})).toEqual({ certificates: [], keychain: 'available' });
  });

  it('enrolls, exports, forgets and imports with the same Node-ID; no key or password reaches the renderer', async () => {
    const offer = await ok('overlay.discover', { source: `${server.url}/.well-known/reload-config` });
    const overlay = { kind: 'operator' as const, offer: offer.offer, acceptSigner: offer.signers[0]!.fingerprint };
    const info = await ok('identity.enroll', { overlay, userName: 'ivan', password: PASSWORD });
    expect(info.userName).toBe(`ivan@${OVERLAY}`);
    expect(await ourAccounts()).toHaveLength(2);

    const file = await ok('identity.export', { id: info.id, passphrase: PASSPHRASE });
    const forgotten = await ok('identity.forget', { id: info.id, confirm: true });
    expect(forgotten.certificates).toEqual([]);
    expect(await ourAccounts()).toEqual([]);
    const imported = await ok('identity.import', { text: file.text, passphrase: PASSPHRASE });
    expect(imported.nodeIds).toEqual(info.nodeIds);

    // The encrypted identity file is the one secret-bearing answer, and it is encrypted.
    const crossed = JSON.stringify(received).replaceAll(file.text.replaceAll('\n', '\\n'), '<identity file>');
    expect(crossed).toContain('<identity file>');
    expect(crossed).not.toMatch(/-----BEGIN [A-Z ]*PRIVATE KEY-----/);
    expect(crossed).not.toContain(PASSWORD);
    expect(crossed).not.toContain(PASSPHRASE);
    expect(received.some((m) => (m as { event?: string }).event === 'identity.changed')).toBe(true);

    for (const entry of await readdir(dataDir, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile()) continue;
      const text = await readFile(join(entry.parentPath, entry.name), 'utf8');
      expect(text).not.toMatch(/PRIVATE KEY/);
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain(PASSPHRASE);
    }
  }, 60_000);

  it('refuses bad input with the contract’s typed error, before any handler runs', async () => {
    const result = await call('identity.forget', { id: 'x', confirm: false as unknown as true });
    expect(result).toMatchObject({ ok: false, error: { code: 'invalid-payload' } });
    const short = await call('identity.export', { id: 'x', passphrase: 'short' });
    expect(short).toMatchObject({ ok: false, error: { code: 'invalid-payload' } });
  });
});
