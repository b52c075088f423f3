/**
 * Runs sandboxed before the renderer. Exposes exactly one object, `window.softphone`, whose requests and
 * events are limited to the contract's channels; the renderer never sees ipcRenderer itself.
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { CHANNELS, EVENT_NAMES, isChannel, isEventName } from '../../src-shared/ipc/contract';
import type { PreloadApi } from '../../src-shared/ipc/bridge';
import {
  ELECTRON_EVENT_CHANNEL,
  ELECTRON_REQUEST_CHANNEL,
  type EventMessage,
  type RequestMessage,
  type Result,
} from '../../src-shared/ipc/envelope';
import { PRELOAD_GLOBAL } from '../../src-shared/ipc/bridge';

const api: PreloadApi = {
  channels: [...CHANNELS],
  events: [...EVENT_NAMES],
  request(message: RequestMessage): Promise<Result> {
    const channel: unknown = message?.channel;
    if (!isChannel(channel)) {
      return Promise.resolve({
        ok: false,
        error: { code: 'unknown-channel', message: `unknown channel "${String(channel)}"` },
      });
    }
    // Only the two known fields cross; anything else the page attached stays behind.
    return ipcRenderer.invoke(ELECTRON_REQUEST_CHANNEL, { channel, payload: message.payload }) as Promise<Result>;
  },
  subscribe(listener: (message: EventMessage) => void): () => void {
    const forward = (_event: IpcRendererEvent, message: EventMessage): void => {
      if (isEventName(message?.event)) listener({ event: message.event, payload: message.payload });
    };
    ipcRenderer.on(ELECTRON_EVENT_CHANNEL, forward);
    return () => {
      ipcRenderer.removeListener(ELECTRON_EVENT_CHANNEL, forward);
    };
  },
};

contextBridge.exposeInMainWorld(PRELOAD_GLOBAL, api);
