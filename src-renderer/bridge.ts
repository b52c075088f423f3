/**
 * The renderer's only way to the backend. It finds the Electron preload's `window.softphone`, or else the
 * browser-mode WebSocket (token from the URL fragment), and wraps either in a typed client that validates
 * every response and event against the contract and throws the typed IPC errors.
 */
import * as v from 'valibot';
import type { BridgeTransport, PreloadApi } from '../src-shared/ipc/bridge';
import { PRELOAD_GLOBAL } from '../src-shared/ipc/bridge';
import {
  events,
  isEventName,
  requestTimeoutMs,
  requests,
  type Channel,
  type EventName,
  type EventOf,
  type RequestOf,
  type ResponseOf,
} from '../src-shared/ipc/contract';
import {
  BRIDGE_PATH,
  BRIDGE_PROTOCOL,
  BRIDGE_TOKEN_PARAM,
  ResultSchema,
  ServerFrameSchema,
  type ClientFrame,
  type EventMessage,
  type RequestMessage,
  type Result,
} from '../src-shared/ipc/envelope';
import { describeIssues, ipcError, ipcErrorFromPayload, issuesOf } from '../src-shared/ipc/errors';

/**
 * `refused`: the socket closed before it ever opened. The page itself loaded, so the host runs; what it
 * refuses is this page's token, which belongs to an earlier run (the host makes a new one at every start).
 */
export type ConnectionState = 'connecting' | 'open' | 'closed' | 'refused';

/** What a person is told when the host refuses the page's token. */
export const STALE_TOKEN_MESSAGE =
  'This page’s link is from an earlier run of the softphone backend, so the backend refused it. Open the URL the backend printed when it started (`npm run start:web` prints it; it carries a new access token).';

export interface Client {
  request<C extends Channel>(channel: C, payload: RequestOf<C>): Promise<ResponseOf<C>>;
  on<E extends EventName>(event: E, listener: (payload: EventOf<E>) => void): () => void;
  /** Current state and changes of the connection to the backend. */
  readonly state: ConnectionState;
  onState(listener: (state: ConnectionState) => void): () => void;
}

export interface ClientOptions {
  /** Deadline of requests whose contract entry names none (the slow ones, enrollment and joining, do). */
  timeoutMs?: number;
  /** Where contract violations in events are reported; they are never delivered. */
  onViolation?: (message: string) => void;
}

/** Transports that know their connection state (the WebSocket) implement this too. */
export interface StatefulTransport extends BridgeTransport {
  readonly state: ConnectionState;
  onState(listener: (state: ConnectionState) => void): () => void;
}

export function createClient(transport: BridgeTransport | StatefulTransport, options: ClientOptions = {}): Client {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const violation = options.onViolation ?? ((m: string) => console.error(m));
  const listeners = new Map<EventName, Set<(payload: never) => void>>();

  transport.subscribe((message: EventMessage) => {
    if (!isEventName(message.event)) return violation(`bridge: event "${message.event}" is not in the contract`);
    const parsed = v.safeParse(events[message.event], message.payload);
    if (!parsed.success) {
      return violation(
        `bridge: event "${message.event}" breaks the contract: ${describeIssues(issuesOf(parsed.issues))}`,
      );
    }
    for (const listener of listeners.get(message.event) ?? []) (listener as (p: unknown) => void)(parsed.output);
  });

  async function request<C extends Channel>(channel: C, payload: RequestOf<C>): Promise<ResponseOf<C>> {
    const limitMs = requestTimeoutMs(channel, timeoutMs);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(ipcError('timeout', `${channel}: no answer within ${limitMs / 1000} s`, { channel })),
        limitMs,
      );
    });
    let raw: Result;
    try {
      raw = await Promise.race([transport.request({ channel, payload }), deadline]);
    } finally {
      clearTimeout(timer);
    }
    const result = v.safeParse(ResultSchema, raw);
    if (!result.success) {
      throw ipcError('invalid-response', `${channel}: malformed answer from the backend`, {
        channel,
        issues: issuesOf(result.issues),
      });
    }
    if (!result.output.ok) throw ipcErrorFromPayload(result.output.error);
    const value = v.safeParse(requests[channel].response, result.output.value);
    if (!value.success) {
      const issues = issuesOf(value.issues);
      throw ipcError('invalid-response', `${channel}: ${describeIssues(issues)}`, { channel, issues });
    }
    return value.output as ResponseOf<C>;
  }

  function on<E extends EventName>(event: E, listener: (payload: EventOf<E>) => void): () => void {
    let set = listeners.get(event);
    if (!set) listeners.set(event, (set = new Set()));
    set.add(listener as (payload: never) => void);
    return () => set.delete(listener as (payload: never) => void);
  }

  const stateful = 'onState' in transport ? transport : undefined;
  return {
    request,
    on,
    get state() {
      return stateful?.state ?? 'open';
    },
    onState: (listener) => stateful?.onState(listener) ?? (() => undefined),
  };
}

/** The browser-mode transport: JSON frames over a WebSocket to the loopback host. */
export class WebSocketTransport implements StatefulTransport {
  private readonly socket: WebSocket;
  private readonly pending = new Map<number, (result: Result) => void>();
  private readonly eventListeners = new Set<(message: EventMessage) => void>();
  private readonly stateListeners = new Set<(state: ConnectionState) => void>();
  private nextId = 1;
  private current: ConnectionState = 'connecting';
  private opened = false;

  constructor(url: string) {
    this.socket = new WebSocket(url, [BRIDGE_PROTOCOL]);
    this.socket.addEventListener('open', () => {
      this.opened = true;
      this.setState('open');
    });
    this.socket.addEventListener('close', () => this.onClose());
    this.socket.addEventListener('message', (event) => this.onFrame(event.data));
  }

  get state(): ConnectionState {
    return this.current;
  }

  onState(listener: (state: ConnectionState) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  async request(message: RequestMessage): Promise<Result> {
    if (this.current === 'connecting') await this.settled();
    if (this.current !== 'open') return closedResult(this.current, message.channel);
    const id = this.nextId++;
    const frame: ClientFrame = { type: 'request', id, channel: message.channel, payload: message.payload };
    return new Promise<Result>((resolve) => {
      this.pending.set(id, resolve);
      this.socket.send(JSON.stringify(frame));
    });
  }

  subscribe(listener: (message: EventMessage) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  close(): void {
    this.socket.close(1000, 'renderer closing');
  }

  /** Resolves once the socket has either opened or closed. */
  private settled(): Promise<void> {
    return new Promise((resolve) => {
      const off = this.onState(() => {
        off();
        resolve();
      });
    });
  }

  private setState(state: ConnectionState): void {
    this.current = state;
    for (const listener of [...this.stateListeners]) listener(state);
  }

  private onClose(): void {
    this.setState(this.opened ? 'closed' : 'refused');
    for (const [id, resolve] of this.pending) {
      this.pending.delete(id);
      resolve(closedResult(this.current));
    }
  }

  private onFrame(data: unknown): void {
    let json: unknown;
    try {
      json = JSON.parse(String(data));
    } catch {
      console.error('bridge: frame from the backend is not JSON');
      return;
    }
    const frame = v.safeParse(ServerFrameSchema, json);
    if (!frame.success) {
      console.error(`bridge: malformed frame from the backend: ${describeIssues(issuesOf(frame.issues))}`);
      return;
    }
    const f = frame.output;
    if (f.type === 'event') {
      for (const listener of [...this.eventListeners]) listener({ event: f.event, payload: f.payload });
      return;
    }
    const resolve = f.id === null ? undefined : this.pending.get(f.id);
    if (!resolve) {
      console.error('bridge: answer to a request that is not pending', f.result);
      return;
    }
    this.pending.delete(f.id as number);
    resolve(f.result);
  }
}

function closedResult(state: ConnectionState, channel?: string): Result {
  const message =
    state === 'refused'
      ? STALE_TOKEN_MESSAGE
      : 'The connection to the softphone backend is closed: the backend has stopped. Start it again and open the URL it prints.';
  return { ok: false, error: { code: 'bridge-closed', message, ...(channel ? { channel } : {}) } };
}

/** Session storage key that keeps the browser-mode token across reloads of the same tab. */
const TOKEN_KEY = 'softphone.bridge-token';

/**
 * Electron: the preload's object. Browser mode: a WebSocket to the page's own origin with the token from
 * `#token=` (moved into sessionStorage and out of the address bar). Neither: BridgeUnavailableError.
 */
export function detectTransport(win: Window = window): BridgeTransport | StatefulTransport {
  const preload = (win as unknown as Record<string, PreloadApi | undefined>)[PRELOAD_GLOBAL];
  if (preload && typeof preload.request === 'function') return preload;

  const fragment = new URLSearchParams(win.location.hash.replace(/^#/, ''));
  const fromUrl = fragment.get(BRIDGE_TOKEN_PARAM);
  if (fromUrl) {
    win.sessionStorage.setItem(TOKEN_KEY, fromUrl);
    win.history.replaceState(null, '', win.location.pathname + win.location.search);
  }
  const token = fromUrl ?? win.sessionStorage.getItem(TOKEN_KEY);
  if (!token) {
    throw ipcError(
      'bridge-unavailable',
      'No backend: open the URL that `npm run start:web` printed (it carries the access token), or run the desktop app.',
    );
  }
  const wsUrl = new URL(BRIDGE_PATH, win.location.href);
  wsUrl.protocol = wsUrl.protocol === 'https:' ? 'wss:' : 'ws:';
  wsUrl.searchParams.set(BRIDGE_TOKEN_PARAM, token);
  return new WebSocketTransport(wsUrl.toString());
}
