/**
 * What a bridge between renderer and main offers: one request/answer call and one event subscription.
 * The Electron preload exposes an object of this shape as `window.softphone`; browser mode implements it
 * over a WebSocket; tests implement it in-process.
 */
import type { EventMessage, RequestMessage, Result } from './envelope';

export interface BridgeTransport {
  request(message: RequestMessage): Promise<Result>;
  /** Returns the unsubscribe function. */
  subscribe(listener: (message: EventMessage) => void): () => void;
}

/** The single object the preload exposes (contextBridge); channels and events are the contract's. */
export interface PreloadApi extends BridgeTransport {
  readonly channels: readonly string[];
  readonly events: readonly string[];
}

/** Name of the global the preload defines in the renderer's main world. */
export const PRELOAD_GLOBAL = 'softphone';
