/**
 * Recording stand-ins for the Electron objects our window code configures (the binary cannot run in
 * tests): they keep every handler and listener handed to them, so a test can call them as Electron would.
 * The `electron` module itself is mocked in each test file, since vi.mock is hoisted per file.
 */
import { vi } from 'vitest';

export type Handler = (...args: never[]) => unknown;

/** A Session: the handlers installSessionSecurity sets, by what they handle (headers, request, check, device). */
export function recordingSession() {
  const handlers: Record<string, Handler> = {};
  const session = {
    webRequest: { onHeadersReceived: (fn: Handler) => (handlers.headers = fn) },
    setPermissionRequestHandler: (fn: Handler) => (handlers.request = fn),
    setPermissionCheckHandler: (fn: Handler) => (handlers.check = fn),
    setDevicePermissionHandler: (fn: Handler) => (handlers.device = fn),
  };
  return { session, handlers };
}

/** The WebContents of a page at `pageUrl`: the listeners and the window-open handler hardenWebContents sets. */
export function recordingWebContents(pageUrl: string) {
  const listeners: Record<string, Handler> = {};
  let openHandler: ((d: { url: string }) => { action: string }) | undefined;
  const contents = {
    on: (name: string, fn: Handler) => (listeners[name] = fn),
    setWindowOpenHandler: (fn: typeof openHandler) => (openHandler = fn),
    getURL: () => pageUrl,
  };
  return {
    contents,
    /** What the window-open handler answers for `url`. */
    open: (url: string) => {
      if (!openHandler) throw new Error('hardenWebContents set no window-open handler');
      return openHandler({ url });
    },
    /** Emits `event` (will-navigate, will-redirect, ...) for `url`; true when a listener prevented it. */
    navigate: (event: string, url: string) => {
      const e = { preventDefault: vi.fn() };
      (listeners[event] as (e: unknown, u: string) => void)(e, url);
      return e.preventDefault.mock.calls.length > 0;
    },
  };
}
