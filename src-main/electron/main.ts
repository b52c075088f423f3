/**
 * Electron entry point: kept thin. It owns the window, the single-instance lock, the app:// protocol and
 * the quit sequence; every service comes from the same composition root browser mode uses.
 */
import { app, BrowserWindow, session } from 'electron';
import { fileURLToPath } from 'node:url';
import { APP_NAME, APP_VERSION } from '../app/app-identity';
import { createBackend, type Backend } from '../app/backend';
import { createLogger, parseLogLevel } from '../common/logger';
import { APP_ORIGIN, registerAppScheme, serveRenderer } from './app-protocol';
import { connectIpcBridge } from './ipc-bridge';
import { createMainWindow, hardenWebContents, installSessionSecurity } from './window';

const log = createLogger({ level: parseLogLevel(process.env.LOG_LEVEL) });
const devServerUrl = process.env.ELECTRON_RENDERER_URL;
const rendererUrl = devServerUrl ?? `${APP_ORIGIN}/index.html`;
const asset = (relative: string): string => fileURLToPath(new URL(relative, import.meta.url));

let mainWindow: BrowserWindow | undefined;
let backend: Backend | undefined;
let quitting = false;

if (!app.requestSingleInstanceLock()) {
  // Another copy owns the overlay identity and the ports; it gets focused through 'second-instance'.
  app.quit();
} else {
  registerAppScheme();
  app.on('second-instance', () => {
    if (mainWindow) {
      if (mainWindow.isMinimized()) mainWindow.restore();
      mainWindow.focus();
    }
  });
  app.on('web-contents-created', (_event, contents) => hardenWebContents(contents, rendererUrl, log));
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) openWindow();
  });
  app.on('before-quit', (event) => {
    if (quitting || !backend) return;
    // Hold the quit until the services have stopped (the peer's handover and Leave, at most 5 s), then quit.
    event.preventDefault();
    quitting = true;
    void backend.stop('quit').finally(() => app.quit());
  });
  void app.whenReady().then(start, (error: unknown) => {
    log.error('electron failed to start', { error });
    app.exit(1);
  });
}

async function start(): Promise<void> {
  if (!devServerUrl) serveRenderer(asset('../renderer'));
  installSessionSecurity(session.defaultSession, rendererUrl, { dev: Boolean(devServerUrl), log });
  backend = await createBackend({
    dataDir: app.getPath('userData'),
    mode: 'electron',
    appName: APP_NAME,
    appVersion: APP_VERSION,
    versions: { node: process.versions.node, electron: process.versions.electron, chrome: process.versions.chrome },
    log,
  });
  const disconnect = connectIpcBridge(backend, rendererUrl, () => BrowserWindow.getAllWindows());
  backend.shutdownHooks.add('electron ipc bridge', disconnect);
  openWindow();
}

function openWindow(): void {
  mainWindow = createMainWindow({
    preloadPath: asset('../preload/index.cjs'),
    rendererUrl,
    iconPath: asset('../../assets/icon.png'),
  });
  mainWindow.on('closed', () => (mainWindow = undefined));
}
