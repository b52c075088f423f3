/** Electron's ipcMain side, with a stubbed `electron`: sender check, dispatch, event fan-out. */
import { describe, expect, it, vi } from 'vitest';
import { ELECTRON_EVENT_CHANNEL, ELECTRON_REQUEST_CHANNEL } from '../../../../src-shared/ipc/envelope';
import { tempDir, testBackend } from '../../../support/fixtures';

const handlers = new Map<string, (...args: unknown[]) => Promise<unknown>>();
vi.mock('electron', () => ({
  ipcMain: {
    handle: (channel: string, fn: (...args: unknown[]) => Promise<unknown>) => handlers.set(channel, fn),
    removeHandler: (channel: string) => handlers.delete(channel),
  },
  shell: { openExternal: vi.fn() },
  BrowserWindow: vi.fn(),
}));

const { connectIpcBridge } = await import('../../../../src-main/electron/ipc-bridge');

describe('electron ipc bridge', () => {
  it('dispatches requests from our renderer only and fans events out to live windows', async () => {
    const dir = await tempDir();
    const backend = await testBackend(dir.path);
    const sent: unknown[][] = [];
    // The peer's own status events (pushed as the backend starts) are not what this test follows.
    const live = {
      isDestroyed: () => false,
      webContents: {
        send: (...a: unknown[]) => (a[1] as { event?: string }).event !== 'overlay.status' && sent.push(a),
      },
    };
    const dead = { isDestroyed: () => true, webContents: { send: () => sent.push(['dead']) } };
    const disconnect = connectIpcBridge(backend, 'app://renderer/index.html', () => [live, dead] as never);
    const handle = handlers.get(ELECTRON_REQUEST_CHANNEL)!;

    const ours = { senderFrame: { url: 'app://renderer/index.html' } };
    expect(await handle(ours, { channel: 'settings.update', payload: { theme: 'light' } })).toMatchObject({
      ok: true,
    });
    expect(sent).toEqual([
      [ELECTRON_EVENT_CHANNEL, { event: 'settings.changed', payload: { displayName: '', theme: 'light' } }],
    ]);

    const foreign = { senderFrame: { url: 'https://evil.example/' } };
    expect(await handle(foreign, { channel: 'settings.update', payload: { theme: 'dark' } })).toMatchObject({
      ok: false,
      error: { code: 'invalid-frame' },
    });
    expect(await handle({ senderFrame: null }, { channel: 'settings.get', payload: {} })).toMatchObject({ ok: false });
    expect(backend.settings.get().theme).toBe('light');

    disconnect();
    expect(handlers.has(ELECTRON_REQUEST_CHANNEL)).toBe(false);
    await dir.remove();
  });
});
