/** The renderer's typed client: it trusts nothing that comes back and throws the typed errors. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createClient, detectTransport, WebSocketTransport } from '../../src-renderer/bridge';
import type { BridgeTransport } from '../../src-shared/ipc/bridge';
import { requestTimeoutMs, SLOW_REQUEST_TIMEOUT_MS } from '../../src-shared/ipc/contract';
import type { EventMessage, Result } from '../../src-shared/ipc/envelope';
import {
  BridgeUnavailableError,
  HandlerFailedError,
  InvalidResponseError,
  RequestTimeoutError,
  UnknownChannelError,
} from '../../src-shared/ipc/errors';

function transport(answer: (channel: string) => Result | Promise<Result>) {
  const listeners = new Set<(m: EventMessage) => void>();
  const t: BridgeTransport = {
    request: async (m) => answer(m.channel),
    subscribe: (l) => (listeners.add(l), () => listeners.delete(l)),
  };
  return { t, push: (m: EventMessage) => listeners.forEach((l) => l(m)) };
}

describe('typed client', () => {
  it('returns validated values', async () => {
    const { t } = transport(() => ({ ok: true, value: { displayName: 'A', theme: 'light' } }));
    expect(await createClient(t).request('settings.get', {})).toEqual({ displayName: 'A', theme: 'light' });
  });

  it('throws the class of the error the backend names', async () => {
    const unknown = transport(() => ({ ok: false, error: { code: 'unknown-channel', message: 'no' } }));
    await expect(createClient(unknown.t).request('settings.get', {})).rejects.toBeInstanceOf(UnknownChannelError);
    const refused = transport(() => ({
      ok: false,
      error: { code: 'handler-failed', message: 'disk full', reason: 'settings-write-failed' },
    }));
    const error = await createClient(refused.t)
      .request('settings.get', {})
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HandlerFailedError);
    expect((error as HandlerFailedError).reason).toBe('settings-write-failed');
  });

  it('rejects answers that break the contract', async () => {
    const wrongValue = transport(() => ({ ok: true, value: { displayName: 'A', theme: 'sepia' } }));
    await expect(createClient(wrongValue.t).request('settings.get', {})).rejects.toBeInstanceOf(InvalidResponseError);
    const notAResult = transport(() => ({ yes: 1 }) as never);
    await expect(createClient(notAResult.t).request('settings.get', {})).rejects.toBeInstanceOf(InvalidResponseError);
  });

  it('gives up after its deadline with a timeout error', async () => {
    const silent = transport(() => new Promise<Result>(() => undefined));
    await expect(createClient(silent.t, { timeoutMs: 20 }).request('settings.get', {})).rejects.toBeInstanceOf(
      RequestTimeoutError,
    );
  });

  it('gives slow channels (joining, enrollment) the contract’s longer deadline', async () => {
    vi.useFakeTimers();
    try {
      const status = {
        state: 'joined',
        reason: null,
        since: 1,
        overlay: 'o',
        local: true,
        configuration: null,
        userName: null,
        nodeId: null,
        predecessors: [],
        successors: [],
        links: [],
        storedRecords: 0,
        storedBytes: 0,
        steps: [],
        lastError: null,
      };
      const slow = transport(
        () => new Promise<Result>((resolve) => setTimeout(() => resolve({ ok: true, value: status }), 60_000)),
      );
      const client = createClient(slow.t);
      const joined = client.request('overlay.join', {});
      const settings = client.request('settings.get', {}).catch((e: unknown) => e);
      await vi.advanceTimersByTimeAsync(30_001);
      expect(await settings).toBeInstanceOf(RequestTimeoutError);
      await vi.advanceTimersByTimeAsync(30_000);
      expect(await joined).toMatchObject({ state: 'joined' });
      expect(requestTimeoutMs('overlay.join', 30_000)).toBe(SLOW_REQUEST_TIMEOUT_MS);

      const silent = transport(() => new Promise<Result>(() => undefined));
      const enroll = createClient(silent.t)
        .request('overlay.join', {})
        .catch((e: unknown) => e);
      await vi.advanceTimersByTimeAsync(SLOW_REQUEST_TIMEOUT_MS + 1);
      expect(await enroll).toBeInstanceOf(RequestTimeoutError);
    } finally {
      vi.useRealTimers();
    }
  });

  it('delivers valid events only and reports the rest', () => {
    const { t, push } = transport(() => ({ ok: true, value: null }));
    const violations: string[] = [];
    const client = createClient(t, { onViolation: (m) => violations.push(m) });
    const got: unknown[] = [];
    const off = client.on('settings.changed', (s) => got.push(s));
    push({ event: 'settings.changed', payload: { displayName: 'B', theme: 'dark' } });
    push({ event: 'settings.changed', payload: { displayName: 'B', theme: 'plaid' } });
    push({ event: 'mystery', payload: {} });
    off();
    push({ event: 'settings.changed', payload: { displayName: 'C', theme: 'dark' } });
    expect(got).toEqual([{ displayName: 'B', theme: 'dark' }]);
    expect(violations).toHaveLength(2);
  });
});

describe('bridge detection', () => {
  afterEach(() => {
    sessionStorage.clear();
    history.replaceState(null, '', '/');
    delete (window as unknown as Record<string, unknown>).softphone;
  });

  it('uses the Electron preload object when present', () => {
    const preload = { request: vi.fn(), subscribe: vi.fn(), channels: [], events: [] };
    (window as unknown as Record<string, unknown>).softphone = preload;
    expect(detectTransport(window)).toBe(preload);
  });

  it('without preload or token, says how to get a backend', () => {
    expect(() => detectTransport(window)).toThrow(BridgeUnavailableError);
    expect(() => detectTransport(window)).toThrow(/npm run start:web/);
  });

  it('takes the browser-mode token from the fragment, keeps it for reloads and clears the address bar', () => {
    history.replaceState(null, '', '/#token=abc123');
    const t = detectTransport(window);
    expect(t).toBeInstanceOf(WebSocketTransport);
    expect(location.hash).toBe('');
    expect(sessionStorage.getItem('softphone.bridge-token')).toBe('abc123');
    (t as WebSocketTransport).close();
    const again = detectTransport(window);
    expect(again).toBeInstanceOf(WebSocketTransport);
    (again as WebSocketTransport).close();
  });
});
