/**
 * The window factory and session policy, with `electron` replaced by a recording stub (the binary cannot
 * run here). What is asserted is what we hand to Electron, which is exactly what decides the sandbox.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { recordingSession, recordingWebContents } from '../../../support/electron-stubs';

const created: { options: Record<string, unknown>; url?: string }[] = [];
const openExternal = vi.fn();
const showMessageBox = vi.fn(() => Promise.resolve({ response: 0 }));

vi.mock('electron', () => {
  class BrowserWindow {
    private readonly record: { options: Record<string, unknown>; url?: string };
    constructor(options: Record<string, unknown>) {
      this.record = { options };
      created.push(this.record);
    }
    once(): void {}
    show(): void {}
    loadURL(url: string): Promise<void> {
      this.record.url = url;
      return Promise.resolve();
    }
    static fromWebContents(): null {
      return null;
    }
  }
  return { BrowserWindow, shell: { openExternal }, dialog: { showMessageBox } };
});

const { createMainWindow, hardenWebContents, installSessionSecurity, mainWindowOptions } =
  await import('../../../../src-main/electron/window');
const { isOwnUrl } = await import('../../../../src-main/electron/own-url');

const RENDERER = 'app://renderer/index.html';

beforeEach(() => {
  created.length = 0;
  openExternal.mockReset();
  showMessageBox.mockClear();
});

describe('main window', () => {
  it('is created with context isolation, the sandbox, no Node integration and our preload', () => {
    createMainWindow({ preloadPath: '/app/out/preload/index.cjs', rendererUrl: RENDERER });
    expect(created).toHaveLength(1);
    const { options, url } = created[0]!;
    expect(url).toBe(RENDERER);
    expect(options.webPreferences).toEqual(
      expect.objectContaining({
        preload: '/app/out/preload/index.cjs',
        contextIsolation: true,
        sandbox: true,
        nodeIntegration: false,
        nodeIntegrationInWorker: false,
        nodeIntegrationInSubFrames: false,
        webSecurity: true,
        allowRunningInsecureContent: false,
        webviewTag: false,
      }),
    );
    expect(mainWindowOptions({ preloadPath: 'p', rendererUrl: RENDERER }).show).toBe(false);
  });

  it('knows its own origin and nothing else', () => {
    expect(isOwnUrl('app://renderer/index.html#x', RENDERER)).toBe(true);
    expect(isOwnUrl('app://other/index.html', RENDERER)).toBe(false);
    expect(isOwnUrl('https://example.com', RENDERER)).toBe(false);
    expect(isOwnUrl('not a url', RENDERER)).toBe(false);
  });
});

describe('session security', () => {
  it('adds the strict CSP header to our pages only', () => {
    const { session, handlers } = recordingSession();
    installSessionSecurity(session as never, RENDERER);
    const respond = (url: string) => {
      let headers: Record<string, string[]> = {};
      (handlers.headers as (d: unknown, cb: (r: { responseHeaders: Record<string, string[]> }) => void) => void)(
        { url, responseHeaders: { 'X-Test': ['1'] } },
        (r) => (headers = r.responseHeaders),
      );
      return headers;
    };
    const own = respond('app://renderer/assets/index.js');
    expect(own['X-Test']).toEqual(['1']);
    const csp = own['Content-Security-Policy']?.[0] ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).toContain("frame-ancestors 'none'");
    expect(respond('https://example.com/')['Content-Security-Policy']).toBeUndefined();
  });

  it('grants microphone and camera to our own page, and nothing else to anyone', () => {
    const { session, handlers } = recordingSession();
    installSessionSecurity(session as never, RENDERER);
    const ask = (permission: string, requestingUrl: string, mediaTypes?: string[]) => {
      let granted: boolean | undefined;
      (handlers.request as (...a: unknown[]) => void)(
        { getURL: () => requestingUrl },
        permission,
        (ok: boolean) => (granted = ok),
        { requestingUrl, isMainFrame: true, ...(mediaTypes ? { mediaTypes } : {}) },
      );
      return granted;
    };
    expect(ask('media', RENDERER, ['audio'])).toBe(true);
    expect(ask('media', RENDERER, ['audio', 'video'])).toBe(true);
    expect(ask('media', 'https://evil.example/', ['audio'])).toBe(false);
    for (const other of ['notifications', 'geolocation', 'clipboard-read', 'display-capture', 'openExternal']) {
      expect(ask(other, RENDERER), other).toBe(false);
    }
    const check = handlers.check as (...a: unknown[]) => boolean;
    const main = { isMainFrame: true, mediaType: 'audio' };
    expect(check(null, 'media', 'app://renderer', main)).toBe(true);
    expect(check(null, 'media', 'https://evil.example', main)).toBe(false);
    expect(check(null, 'geolocation', 'app://renderer', main)).toBe(false);
    expect((handlers.device as (d: unknown) => boolean)({ deviceType: 'usb', origin: 'app://renderer' })).toBe(false);
  });

  it('denies navigation away, pop-ups and webviews; https links go to the system browser once confirmed', async () => {
    const { contents, open, navigate } = recordingWebContents(RENDERER);
    hardenWebContents(contents as never, RENDERER);
    expect(navigate('will-navigate', 'https://evil.example/')).toBe(true);
    expect(navigate('will-navigate', 'file:///etc/passwd')).toBe(true);
    expect(navigate('will-navigate', 'app://renderer/index.html')).toBe(false);
    expect(navigate('will-redirect', 'https://evil.example/')).toBe(true);
    expect(navigate('will-attach-webview', 'app://renderer/')).toBe(true);

    expect(open('file:///etc/passwd')).toEqual({ action: 'deny' });
    expect(open('javascript:alert(1)')).toEqual({ action: 'deny' });
    expect(showMessageBox).toHaveBeenCalledTimes(1); // the will-navigate to https above
    await new Promise((resolve) => setTimeout(resolve, 0));
    showMessageBox.mockResolvedValueOnce({ response: 1 });
    expect(open('https://example.com/help')).toEqual({ action: 'deny' });
    expect(openExternal).not.toHaveBeenCalled();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(showMessageBox).toHaveBeenCalledTimes(2);
    expect(openExternal).toHaveBeenCalledExactlyOnceWith('https://example.com/help');
  });
});
