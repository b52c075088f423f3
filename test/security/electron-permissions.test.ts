/**
 * Issue 10, item 12: the renderer gets microphone and camera, from our own page only, and nothing else.
 * The session handlers are installed on a recording stand-in for Electron's Session (the binary cannot run
 * here) and then asked what a hostile page or frame would ask.
 */
import { describe, expect, it, vi } from 'vitest';
import { recordingSession } from '../support/electron-stubs';

vi.mock('electron', () => ({
  BrowserWindow: { fromWebContents: () => null },
  shell: { openExternal: vi.fn() },
  dialog: { showMessageBox: vi.fn() },
}));

const { installSessionSecurity } = await import('../../src-main/electron/window');

const RENDERER = 'app://renderer/index.html';
const OWN = 'app://renderer/index.html';

/** Every permission name Electron 45 can ask about (electron.d.ts), except `media`. */
const OTHER_PERMISSIONS = [
  'ar',
  'automatic-fullscreen',
  'background-fetch',
  'background-sync',
  'captured-surface-control',
  'clipboard-read',
  'clipboard-sanitized-write',
  'deprecated-sync-clipboard-read',
  'display-capture',
  'fileSystem',
  'fullscreen',
  'geolocation',
  'geolocation-approximate',
  'hand-tracking',
  'hid',
  'idle-detection',
  'keyboardLock',
  'local-fonts',
  'local-network',
  'local-network-access',
  'loopback-network',
  'mediaKeySystem',
  'midi',
  'midiSysex',
  'nfc',
  'notifications',
  'openExternal',
  'payment-handler',
  'periodic-background-sync',
  'persistent-storage',
  'pointerLock',
  'screen-wake-lock',
  'sensors',
  'serial',
  'smart-card',
  'speaker-selection',
  'storage-access',
  'system-wake-lock',
  'top-level-storage-access',
  'usb',
  'vr',
  'web-app-installation',
  'web-printing',
  'window-management',
  'unknown',
];

/** Origins and URLs that are not our page, some of them made to look like it. */
const FOREIGN = [
  'https://evil.example/',
  'http://renderer/index.html',
  'file:///index.html',
  'file:///C:/app/index.html',
  'data:text/html,<script>1</script>',
  'about:blank',
  'about:srcdoc',
  'blob:app://renderer/5f1c3e9a-0000-4000-8000-000000000000',
  'app://other/index.html',
  'app://renderer.evil.example/index.html',
  'app://renderer@evil.example/index.html',
  'app://renderer:1234/index.html',
  'devtools://devtools/bundled/index.html',
  'chrome://settings/',
  'not a url',
  '',
];

function installed() {
  const { session, handlers } = recordingSession();
  installSessionSecurity(session as never, RENDERER);
  return handlers;
}

interface RequestCase {
  permission?: string;
  requestingUrl?: string;
  topUrl?: string;
  isMainFrame?: boolean;
  mediaTypes?: unknown;
}

/** Runs the installed request handler the way Electron does, and returns what it answered. */
function request(c: RequestCase): boolean | undefined {
  const handlers = installed();
  let granted: boolean | undefined;
  const details: Record<string, unknown> = {
    requestingUrl: c.requestingUrl ?? OWN,
    isMainFrame: c.isMainFrame ?? true,
  };
  if ('mediaTypes' in c) {
    if (c.mediaTypes !== undefined) details.mediaTypes = c.mediaTypes;
  } else {
    details.mediaTypes = ['audio'];
  }
  (handlers.request as (...a: unknown[]) => void)(
    { getURL: () => c.topUrl ?? OWN },
    c.permission ?? 'media',
    (ok: boolean) => (granted = ok),
    details,
  );
  return granted;
}

interface CheckCase {
  permission?: string;
  origin?: string;
  details?: Record<string, unknown>;
}

function check(c: CheckCase): unknown {
  const handlers = installed();
  const details = { isMainFrame: true, mediaType: 'audio', requestingUrl: OWN, ...c.details };
  return (handlers.check as (...a: unknown[]) => unknown)(
    { getURL: () => OWN },
    c.permission ?? 'media',
    c.origin ?? 'app://renderer',
    details,
  );
}

describe('permission requests (setPermissionRequestHandler)', () => {
  it('grants microphone, camera or both to our own main frame', () => {
    expect(request({ mediaTypes: ['audio'] })).toBe(true);
    expect(request({ mediaTypes: ['video'] })).toBe(true);
    expect(request({ mediaTypes: ['audio', 'video'] })).toBe(true);
  });

  it.each([
    ['mediaTypes missing', { mediaTypes: undefined }],
    ['mediaTypes empty', { mediaTypes: [] }],
    ['mediaTypes not an array', { mediaTypes: 'audio' }],
    ['a screen next to audio and video', { mediaTypes: ['audio', 'video', 'screen'] }],
    ['an unknown media type', { mediaTypes: ['unknown'] }],
    ['a non-string media type', { mediaTypes: [1] }],
    ['an empty requesting URL (no fallback to the page URL)', { requestingUrl: '' }],
    ['a sub frame, even of our own origin', { isMainFrame: false }],
    ['our URL inside a foreign page', { topUrl: 'https://evil.example/' }],
  ])('denies media with %s', (_name, c: RequestCase) => {
    expect(request(c)).toBe(false);
  });

  it.each(FOREIGN)('denies media to %j', (url) => {
    expect(request({ requestingUrl: url, topUrl: url })).toBe(false);
    expect(request({ requestingUrl: url })).toBe(false);
  });

  it.each(OTHER_PERMISSIONS)('denies %s, also to our own page', (permission) => {
    expect(request({ permission })).toBe(false);
    expect(request({ permission, mediaTypes: ['audio', 'video'] })).toBe(false);
  });
});

describe('permission checks (setPermissionCheckHandler)', () => {
  it('allows microphone and camera checks from our own main frame', () => {
    expect(check({ details: { mediaType: 'audio' } })).toBe(true);
    expect(check({ details: { mediaType: 'video' } })).toBe(true);
  });

  it.each([
    ['mediaType unknown', { mediaType: 'unknown' }],
    ['mediaType missing', { mediaType: undefined }],
    ['a sub frame', { isMainFrame: false }],
    ['an embedding (cross-origin) frame', { embeddingOrigin: 'https://evil.example' }],
    ['a foreign security origin', { securityOrigin: 'https://evil.example' }],
    ['a foreign requesting URL', { requestingUrl: 'https://evil.example/' }],
  ])('denies media with %s', (_name, details) => {
    expect(check({ details })).toBe(false);
  });

  it.each(FOREIGN)('denies media to %j', (origin) => {
    expect(check({ origin, details: { requestingUrl: origin } })).toBe(false);
    expect(check({ origin })).toBe(false);
  });

  it.each(OTHER_PERMISSIONS)('denies %s, also to our own page', (permission) => {
    expect(check({ permission })).toBe(false);
  });
});

describe('device permissions (setDevicePermissionHandler)', () => {
  it('is installed and grants no HID, serial or USB device to anyone', () => {
    const handlers = installed();
    expect(handlers.device, 'setDevicePermissionHandler was not called').toBeTypeOf('function');
    for (const deviceType of ['hid', 'serial', 'usb']) {
      const answer = (handlers.device as (d: unknown) => unknown)({
        deviceType,
        origin: 'app://renderer',
        device: { vendorId: 1, productId: 2 },
      });
      expect(answer, deviceType).toBe(false);
    }
  });
});
