/**
 * Electron's side of the bridge: one ipcMain handler for every contract request and one event channel.
 * Requests from any frame that is not our own renderer are answered with an error and never dispatched.
 */
import { ipcMain, type BrowserWindow, type IpcMainInvokeEvent } from 'electron';
import { ELECTRON_EVENT_CHANNEL, ELECTRON_REQUEST_CHANNEL, type Result } from '../../src-shared/ipc/envelope';
import type { Backend } from '../app/backend';
import { isOwnUrl } from './own-url';

export function connectIpcBridge(
  backend: Pick<Backend, 'dispatcher' | 'events'>,
  rendererUrl: string,
  windows: () => BrowserWindow[],
): () => void {
  ipcMain.handle(ELECTRON_REQUEST_CHANNEL, async (event: IpcMainInvokeEvent, message: unknown): Promise<Result> => {
    const sender = event.senderFrame?.url ?? '';
    if (!isOwnUrl(sender, rendererUrl)) {
      return { ok: false, error: { code: 'invalid-frame', message: 'request from a frame that is not the app' } };
    }
    return backend.dispatcher.dispatch(message);
  });
  const unsubscribe = backend.events.subscribe((message) => {
    for (const win of windows()) {
      if (!win.isDestroyed()) win.webContents.send(ELECTRON_EVENT_CHANNEL, message);
    }
  });
  return () => {
    unsubscribe();
    ipcMain.removeHandler(ELECTRON_REQUEST_CHANNEL);
  };
}
