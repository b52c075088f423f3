/** The preload, run against a stubbed `electron`: one exposed object, limited to the contract. */
import { describe, expect, it, vi } from 'vitest';
import { CHANNELS, EVENT_NAMES } from '../../../../src-shared/ipc/contract';
import type { PreloadApi } from '../../../../src-shared/ipc/bridge';
import { ELECTRON_EVENT_CHANNEL, ELECTRON_REQUEST_CHANNEL } from '../../../../src-shared/ipc/envelope';

const exposed: Record<string, unknown> = {};
const listeners = new Map<string, (...args: unknown[]) => void>();
const invoke = vi.fn(async () => ({ ok: true, value: 'answer' }));

vi.mock('electron', () => ({
  contextBridge: { exposeInMainWorld: (key: string, api: unknown) => (exposed[key] = api) },
  ipcRenderer: {
    invoke,
    on: (channel: string, fn: (...args: unknown[]) => void) => listeners.set(channel, fn),
    removeListener: (channel: string) => listeners.delete(channel),
  },
}));

await import('../../../../src-main/electron/preload');
const api = exposed.softphone as PreloadApi;

describe('preload', () => {
  it('exposes exactly one object, built from the contract', () => {
    expect(Object.keys(exposed)).toEqual(['softphone']);
    expect(api.channels).toEqual(CHANNELS);
    expect(api.events).toEqual(EVENT_NAMES);
  });

  it('forwards contract requests with only channel and payload, refuses others locally', async () => {
    const message = { channel: 'settings.get', payload: {}, extra: 'dropped' };
    expect(await api.request(message as never)).toEqual({ ok: true, value: 'answer' });
    expect(invoke).toHaveBeenCalledWith(ELECTRON_REQUEST_CHANNEL, { channel: 'settings.get', payload: {} });
    invoke.mockClear();
    expect(await api.request({ channel: 'shell.exec', payload: {} })).toMatchObject({
      ok: false,
      error: { code: 'unknown-channel' },
    });
    expect(invoke).not.toHaveBeenCalled();
  });

  it('delivers contract events only, and unsubscribes', () => {
    const got: unknown[] = [];
    const off = api.subscribe((m) => got.push(m));
    const fire = listeners.get(ELECTRON_EVENT_CHANNEL)!;
    fire({}, { event: 'settings.changed', payload: { displayName: '', theme: 'dark' } });
    fire({}, { event: 'not.in.contract', payload: 1 });
    expect(got).toEqual([{ event: 'settings.changed', payload: { displayName: '', theme: 'dark' } }]);
    off();
    expect(listeners.has(ELECTRON_EVENT_CHANNEL)).toBe(false);
  });
});
