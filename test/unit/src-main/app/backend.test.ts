import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EventMessage } from '../../../../src-shared/ipc/envelope';
import { CHANNELS } from '../../../../src-shared/ipc/contract';
import { KeychainUnavailableError } from '../../../../src-main/app/credentials/credential-store';
import { createBackend, PEER_STOP_TIMEOUT_MS } from '../../../../src-main/app/backend';
import { memoryLogger, tempDir, testBackend } from '../../../support/fixtures';

let dir: Awaited<ReturnType<typeof tempDir>>;
beforeEach(async () => (dir = await tempDir()));
afterEach(async () => dir.remove());

describe('backend composition root', () => {
  it('serves app.info and settings through the dispatcher and pushes settings.changed', async () => {
    const backend = await testBackend(dir.path);
    const seen: EventMessage[] = [];
    backend.events.subscribe((m) => m.event === 'settings.changed' && seen.push(m));
    expect(await backend.dispatcher.dispatch({ channel: 'app.info', payload: {} })).toMatchObject({
      ok: true,
      value: { name: 'Reload Softphone', mode: 'browser', dataDir: dir.path },
    });
    const updated = await backend.dispatcher.dispatch({ channel: 'settings.update', payload: { theme: 'dark' } });
    expect(updated).toEqual({ ok: true, value: { displayName: '', theme: 'dark' } });
    expect(seen).toEqual([{ event: 'settings.changed', payload: { displayName: '', theme: 'dark' } }]);
  });

  it('moves an unreadable settings file aside (content kept) and starts with defaults', async () => {
    const path = join(dir.path, 'settings.json');
    await writeFile(path, 'not json at all');
    const { log, lines } = memoryLogger();
    const backend = await testBackend(dir.path, log);
    expect(backend.settings.get()).toEqual({ displayName: '', theme: 'system' });
    const aside = (await readdir(dir.path)).filter((n) => n.startsWith('settings.json.corrupt-'));
    expect(aside).toHaveLength(1);
    expect(await readFile(join(dir.path, aside[0] as string), 'utf8')).toBe('not json at all');
    expect(lines.some((l) => l.level === 'warn' && String(l.msg).includes('moved aside'))).toBe(true);
  });

  it('stop() announces app.stopping before the hooks run, once', async () => {
    const backend = await testBackend(dir.path);
    const order: string[] = [];
    backend.events.subscribe((m) => order.push(`event:${m.event}`));
    backend.shutdownHooks.add('overlay', () => void order.push('hook:overlay'));
    const [first, second] = await Promise.all([backend.stop('test'), backend.stop('again')]);
    expect(first).toBe(second);
    expect(order).toEqual(['event:app.stopping', 'hook:overlay']);
  });

  it('every channel refuses a payload with an unknown field, naming it', async () => {
    const backend = await testBackend(dir.path);
    for (const channel of CHANNELS) {
      const r = await backend.dispatcher.dispatch({ channel, payload: { surprise: 1 } });
      expect(r.ok, channel).toBe(false);
      if (!r.ok) {
        expect(r.error.code, channel).toBe('invalid-payload');
        expect(r.error.issues?.map((i) => i.path).join(' '), channel).toMatch(/surprise/);
      }
    }
  });

  it.each([
    ['overlay.discover', { source: 'ftp://example.org/config' }, 'source'],
    ['overlay.discover', { source: `https://${'x'.repeat(3000)}` }, 'source'],
    ['identity.createSelfSigned', { overlay: { kind: 'local' }, userName: 7 }, 'userName'],
    ['identity.createSelfSigned', { overlay: { kind: 'mars' }, userName: 'alice' }, 'overlay.kind'],
    [
      'identity.enroll',
      { overlay: { kind: 'operator', offer: 'short', acceptSigner: 'AA' }, userName: 'a', password: 'p' },
      'overlay.offer',
    ],
    ['identity.renew', { id: '' }, 'id'],
    ['identity.export', { id: 'alice', passphrase: 'short' }, 'passphrase'],
    ['identity.import', { text: 42, passphrase: 'x' }, 'text'],
    ['identity.forget', { id: 'alice', confirm: false }, 'confirm'],
  ])('%s refuses a bad field (%#) naming %s, and changes nothing', async (channel, payload, field) => {
    const backend = await testBackend(dir.path);
    const r = await backend.dispatcher.dispatch({ channel, payload });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe('invalid-payload');
      expect(r.error.issues?.[0]?.path).toBe(field);
    }
    const status = await backend.dispatcher.dispatch({ channel: 'overlay.status', payload: {} });
    expect(status).toMatchObject({ ok: true, value: { state: 'no-identity' } });
  });

  it('overlay.join without an identity is refused as identity-missing; overlay.leave answers the status', async () => {
    const backend = await testBackend(dir.path);
    const join = await backend.dispatcher.dispatch({ channel: 'overlay.join', payload: {} });
    expect(join).toMatchObject({ ok: false, error: { code: 'handler-failed', reason: 'identity-missing' } });
    const leave = await backend.dispatcher.dispatch({ channel: 'overlay.leave', payload: {} });
    expect(leave).toMatchObject({ ok: true, value: { state: 'no-identity', lastError: null } });
  });

  it('starts without a keychain: it answers, identity requests refuse keychain-unavailable', async () => {
    const { log } = memoryLogger();
    const backend = await createBackend({
      dataDir: dir.path,
      mode: 'browser',
      appName: 'Reload Softphone',
      appVersion: '0.0.0-test',
      versions: { node: process.versions.node, electron: null, chrome: null },
      log,
      credentials: async () => {
        throw new KeychainUnavailableError('no Secret Service on the session bus');
      },
    });
    expect((await backend.dispatcher.dispatch({ channel: 'app.info', payload: {} })).ok).toBe(true);
    const status = await backend.dispatcher.dispatch({ channel: 'overlay.status', payload: {} });
    expect(status).toMatchObject({ ok: true, value: { state: 'no-identity' } });
    const made = await backend.dispatcher.dispatch({
      channel: 'identity.createSelfSigned',
      payload: { overlay: { kind: 'local' }, userName: 'alice' },
    });
    expect(made).toMatchObject({ ok: false, error: { code: 'handler-failed', reason: 'keychain-unavailable' } });
    await backend.stop('test');
  });

  it('the peer leaves in a shutdown hook bounded at 5 s', async () => {
    const backend = await testBackend(dir.path);
    const outcomes = await backend.stop('quit');
    // The peer leaves before the identity side's timers stop (hooks run last-added first).
    expect(outcomes.map((o) => [o.name, o.status])).toEqual([
      ['overlay peer: handover and Leave', 'done'],
      ['identity renewal', 'done'],
    ]);
    expect(PEER_STOP_TIMEOUT_MS).toBe(5_000);
  });
});
