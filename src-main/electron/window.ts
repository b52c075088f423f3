/**
 * The main window and everything that keeps its renderer boxed in: webPreferences, the CSP header, the
 * permission policy (microphone/camera for our own page only), and denied navigation and pop-ups.
 * Kept free of app logic so a test can import it with a stubbed `electron` module.
 */
import { BrowserWindow, shell, type BrowserWindowConstructorOptions, type Session, type WebContents } from 'electron';
import { buildCsp } from '../../src-shared/security/csp';

export interface MainWindowOptions {
  preloadPath: string;
  /** The URL the renderer is loaded from (app://renderer/index.html, or the dev server). */
  rendererUrl: string;
  iconPath?: string;
}

export function mainWindowOptions(options: MainWindowOptions): BrowserWindowConstructorOptions {
  return {
    width: 1024,
    height: 720,
    minWidth: 720,
    minHeight: 480,
    show: false,
    title: 'Reload Softphone',
    ...(options.iconPath ? { icon: options.iconPath } : {}),
    webPreferences: {
      preload: options.preloadPath,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      navigateOnDragDrop: false,
      safeDialogs: true,
      experimentalFeatures: false,
      spellcheck: false,
    },
  };
}

export function createMainWindow(options: MainWindowOptions): BrowserWindow {
  const win = new BrowserWindow(mainWindowOptions(options));
  win.once('ready-to-show', () => win.show());
  void win.loadURL(options.rendererUrl);
  return win;
}

/**
 * Is `url` one of our own renderer pages (same scheme and host as the renderer URL)? Compared by parts:
 * Node's URL reports origin "null" for every non-special scheme (app:, file:), so origins would all match.
 */
export function isOwnUrl(url: string, rendererUrl: string): boolean {
  try {
    const candidate = new URL(url);
    const own = new URL(rendererUrl);
    return own.host !== '' && candidate.protocol === own.protocol && candidate.host === own.host;
  } catch {
    return false;
  }
}

const ALLOWED_MEDIA = new Set(['audio', 'video']);

/**
 * Applies to the session the window uses: CSP on every response of our origin, and the permission policy.
 * `dev` relaxes the CSP only as far as Vite's dev server needs (inline styles, HMR socket).
 */
export function installSessionSecurity(session: Session, rendererUrl: string, dev = false): void {
  const csp = buildCsp({ header: true, dev });
  session.webRequest.onHeadersReceived((details, callback) => {
    const headers = { ...details.responseHeaders };
    if (isOwnUrl(details.url, rendererUrl)) headers['Content-Security-Policy'] = [csp];
    callback({ responseHeaders: headers });
  });

  session.setPermissionRequestHandler((contents, permission, callback, details) => {
    const fromUs = isOwnUrl(details.requestingUrl || contents.getURL(), rendererUrl);
    if (permission === 'media' && fromUs) {
      const types = 'mediaTypes' in details ? (details.mediaTypes ?? []) : [];
      callback(types.every((t) => ALLOWED_MEDIA.has(t)));
      return;
    }
    callback(false);
  });
  session.setPermissionCheckHandler((_contents, permission, requestingOrigin) => {
    return permission === 'media' && isOwnUrl(requestingOrigin, rendererUrl);
  });
}

/** Every web contents (window, devtools, anything later): no navigation away, no pop-ups, no webviews. */
export function hardenWebContents(contents: WebContents, rendererUrl: string): void {
  contents.on('will-navigate', (event, url) => {
    if (!isOwnUrl(url, rendererUrl)) event.preventDefault();
  });
  contents.on('will-redirect', (event, url) => {
    if (!isOwnUrl(url, rendererUrl)) event.preventDefault();
  });
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(({ url }) => {
    // Links to the web open in the user's browser, never inside the app.
    if (url.startsWith('https://')) void shell.openExternal(url);
    return { action: 'deny' };
  });
}
