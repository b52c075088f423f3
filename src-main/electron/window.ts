/**
 * The main window and everything that keeps its renderer boxed in: webPreferences, the CSP header, the
 * permission policy (microphone/camera for our own page only), and denied navigation and pop-ups.
 * The decisions live in plain modules (own-url, permission-policy, external-links); this file only hands
 * Electron's arguments to them, so a test can import it with a stubbed `electron` module.
 */
import {
  BrowserWindow,
  dialog,
  shell,
  type BrowserWindowConstructorOptions,
  type MessageBoxReturnValue,
  type Session,
  type WebContents,
} from 'electron';
import type { Logger } from '../common/logger';
import { buildCsp } from '../../src-shared/security/csp';
import { externalLinkDialog, isOpenAnswer, judgeExternalLink } from './external-links';
import { isOwnUrl } from './own-url';
import { judgePermissionCheck, judgePermissionRequest } from './permission-policy';

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
 * Applies to the session the window uses: CSP on every response of our origin, and the permission policy
 * of permission-policy.ts (microphone/camera for our own main frame, nothing else, no devices).
 * `dev` relaxes the CSP only as far as Vite's dev server needs (inline styles, HMR socket).
 */
export function installSessionSecurity(
  session: Session,
  rendererUrl: string,
  options: { dev?: boolean; log?: Logger } = {},
): void {
  const { dev = false, log } = options;
  const csp = buildCsp({ header: true, dev });
  session.webRequest.onHeadersReceived((details, callback) => {
    const headers = { ...details.responseHeaders };
    if (isOwnUrl(details.url, rendererUrl)) headers['Content-Security-Policy'] = [csp];
    callback({ responseHeaders: headers });
  });

  session.setPermissionRequestHandler((contents, permission, callback, details) => {
    const verdict = judgePermissionRequest(
      {
        permission,
        requestingUrl: details.requestingUrl,
        pageUrl: contents.getURL(),
        isMainFrame: details.isMainFrame,
        mediaTypes: 'mediaTypes' in details ? details.mediaTypes : undefined,
      },
      rendererUrl,
    );
    if (verdict !== 'granted') log?.debug('permission request denied', { permission, verdict });
    callback(verdict === 'granted');
  });
  session.setPermissionCheckHandler((_contents, permission, requestingOrigin, details) => {
    const verdict = judgePermissionCheck(
      {
        permission,
        requestingOrigin,
        securityOrigin: details.securityOrigin,
        requestingUrl: details.requestingUrl,
        embeddingOrigin: details.embeddingOrigin,
        isMainFrame: details.isMainFrame,
        mediaType: details.mediaType,
      },
      rendererUrl,
    );
    return verdict === 'granted';
  });
  // No HID, serial or USB device for anyone; the permission handlers above already refuse to ask.
  session.setDevicePermissionHandler(() => false);
}

/** Web contents with a confirmation dialog open: a page gets one question at a time, never a pile. */
const asking = new WeakSet<WebContents>();

/** Asks the user before an https address goes to the system browser; anything else is dropped. */
function offerExternalLink(contents: WebContents, url: string, rendererUrl: string, log?: Logger): void {
  const decision = judgeExternalLink(url, contents.getURL(), rendererUrl);
  if (decision.action === 'deny') {
    log?.debug('external link denied', { reason: decision.reason });
    return;
  }
  if (asking.has(contents)) return;
  asking.add(contents);
  const options = externalLinkDialog(decision);
  const owner = BrowserWindow.fromWebContents(contents);
  // Built in an executor so that a synchronous throw also ends in `finally` and frees the page's turn.
  new Promise<MessageBoxReturnValue>((resolve) =>
    resolve(owner ? dialog.showMessageBox(owner, options) : dialog.showMessageBox(options)),
  )
    .then(({ response }) => (isOpenAnswer(response) ? shell.openExternal(decision.url) : undefined))
    .catch((error: unknown) => log?.warn('could not open the link in the browser', { host: decision.host, error }))
    .finally(() => asking.delete(contents));
}

/**
 * Every web contents (window, devtools, anything later): no navigation away, no pop-ups, no webviews.
 * A link to an https address, by window.open or by navigation, is offered to the system browser after the
 * user confirms (external-links.ts).
 */
export function hardenWebContents(contents: WebContents, rendererUrl: string, log?: Logger): void {
  contents.on('will-navigate', (event, url) => {
    if (isOwnUrl(url, rendererUrl)) return;
    event.preventDefault();
    offerExternalLink(contents, url, rendererUrl, log);
  });
  contents.on('will-redirect', (event, url) => {
    if (!isOwnUrl(url, rendererUrl)) event.preventDefault();
  });
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(({ url }) => {
    offerExternalLink(contents, url, rendererUrl, log);
    return { action: 'deny' };
  });
}
