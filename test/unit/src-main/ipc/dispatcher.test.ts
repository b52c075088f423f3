import { describe, expect, it, vi } from 'vitest';
import { ServiceError } from '../../../../src-main/common/service-error';
import { createDispatcher, type Handlers } from '../../../../src-main/ipc/dispatcher';
import type { AppInfo } from '../../../../src-shared/model/app-info';
import { memoryLogger } from '../../../support/fixtures';

class QuotaError extends ServiceError {
  readonly reason = 'quota-exceeded';
}

const info: AppInfo = {
  name: 'n',
  version: '1',
  mode: 'browser',
  platform: 'linux',
  versions: { node: '20', electron: null, chrome: null },
  dataDir: '/tmp/x',
};

function setup(overrides: Partial<Handlers> = {}) {
  const handlers = {
    'app.info': vi.fn(() => info),
    'settings.get': vi.fn(() => ({ displayName: 'A', theme: 'system' as const })),
    'settings.update': vi.fn((patch: { displayName?: string }) => ({
      displayName: patch.displayName ?? 'A',
      theme: 'system' as const,
    })),
    ...overrides,
  };
  const { log, lines } = memoryLogger();
  return { handlers, lines, dispatcher: createDispatcher(handlers as Handlers, log) };
}

describe('dispatcher', () => {
  it('answers a valid request with the handler value, validated and normalised', async () => {
    const { dispatcher, handlers } = setup();
    const result = await dispatcher.dispatch({ channel: 'settings.update', payload: { displayName: '  Bo ' } });
    expect(result).toEqual({ ok: true, value: { displayName: 'Bo', theme: 'system' } });
    expect(handlers['settings.update']).toHaveBeenCalledWith({ displayName: 'Bo' });
  });

  it('refuses an unknown channel without running anything', async () => {
    const { dispatcher, handlers } = setup();
    for (const channel of ['nope', '__proto__', 'constructor']) {
      const result = await dispatcher.dispatch({ channel, payload: {} });
      expect(result).toMatchObject({ ok: false, error: { code: 'unknown-channel', channel } });
    }
    for (const fn of Object.values(handlers)) expect(fn).not.toHaveBeenCalled();
  });

  it('refuses an invalid payload with the offending field named, and runs nothing', async () => {
    const { dispatcher, handlers } = setup();
    const result = await dispatcher.dispatch({ channel: 'settings.update', payload: { displayName: 7 } });
    expect(result).toMatchObject({
      ok: false,
      error: { code: 'invalid-payload', channel: 'settings.update', issues: [{ path: 'displayName' }] },
    });
    expect(handlers['settings.update']).not.toHaveBeenCalled();
    const extra = await dispatcher.dispatch({ channel: 'settings.get', payload: { sneaky: true } });
    expect(extra).toMatchObject({ ok: false, error: { code: 'invalid-payload' } });
    const missing = await dispatcher.dispatch({ channel: 'settings.get' });
    expect(missing).toMatchObject({ ok: false, error: { code: 'invalid-payload' } });
  });

  it('refuses a message that is not a request envelope', async () => {
    const { dispatcher } = setup();
    for (const message of [null, 'settings.get', { channel: 1, payload: {} }, { channel: 'a', payload: {}, x: 1 }]) {
      expect(await dispatcher.dispatch(message)).toMatchObject({ ok: false, error: { code: 'invalid-frame' } });
    }
  });

  it("forwards a service's own error with its reason", async () => {
    const { dispatcher } = setup({
      'settings.get': () => {
        throw new QuotaError('too many');
      },
    });
    expect(await dispatcher.dispatch({ channel: 'settings.get', payload: {} })).toEqual({
      ok: false,
      error: { code: 'handler-failed', message: 'too many', channel: 'settings.get', reason: 'quota-exceeded' },
    });
  });

  it('hides unexpected exceptions behind an internal error and logs them', async () => {
    const { dispatcher, lines } = setup({
      'settings.get': async () => {
        throw new Error('secret path /home/alice/.keys');
      },
    });
    const result = await dispatcher.dispatch({ channel: 'settings.get', payload: {} });
    expect(result).toMatchObject({ ok: false, error: { code: 'internal' } });
    expect(JSON.stringify(result)).not.toContain('secret');
    expect(lines.some((l) => l.level === 'error' && JSON.stringify(l).includes('secret'))).toBe(true);
  });

  it('catches a handler answer that breaks the contract', async () => {
    const { dispatcher } = setup({
      'settings.get': () => ({ displayName: 'A', theme: 'sepia' }) as never,
    });
    expect(await dispatcher.dispatch({ channel: 'settings.get', payload: {} })).toMatchObject({
      ok: false,
      error: { code: 'invalid-response', issues: [{ path: 'theme' }] },
    });
  });
});
