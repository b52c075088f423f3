/**
 * A client of the browser-mode bridge from Node, speaking the renderer's protocol (src-shared/ipc/envelope.ts):
 * the per-run token in the URL, the page's Origin, the BRIDGE_PROTOCOL subprotocol, JSON frames. The bench drives
 * the backend through it instead of clicking; tests use it to read `overlay.status` from a second client.
 */
import WebSocket from 'ws';
import * as v from 'valibot';
import { BRIDGE_PATH, BRIDGE_PROTOCOL, BRIDGE_TOKEN_PARAM, ServerFrameSchema } from '../../src-shared/ipc/envelope';
import {
  events,
  requestTimeoutMs,
  type Channel,
  type EventName,
  type EventOf,
  type RequestOf,
  type ResponseOf,
} from '../../src-shared/ipc/contract';

/** The backend refused a request; `code` and `reason` as the renderer would see them. */
export class BridgeRequestError extends Error {
  constructor(
    readonly channel: string,
    readonly error: { code: string; message: string; reason?: string } & Record<string, unknown>,
  ) {
    super(`${channel} refused: ${error.code}${error.reason ? ` (${error.reason})` : ''}: ${error.message}`);
    this.name = 'BridgeRequestError';
  }
}

export class BridgeTimeoutError extends Error {
  constructor(what: string, ms: number) {
    super(`no ${what} within ${ms} ms`);
    this.name = 'BridgeTimeoutError';
  }
}

interface Pending {
  channel: string;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export class BridgeClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Set<(event: string, payload: unknown) => void>();
  /** Every event received, in order (name and validated payload). */
  readonly received: { event: string; payload: unknown; at: number }[] = [];

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data) => this.onFrame(String(data)));
    ws.on('close', () => {
      for (const [id, p] of this.pending) {
        clearTimeout(p.timer);
        p.reject(new Error(`bridge closed before the answer to ${p.channel}`));
        this.pending.delete(id);
      }
    });
  }

  /** Connects with the host's origin and token (as printed by web.js), within `ms`. */
  static connect(host: { origin: string; token: string }, ms = 10_000): Promise<BridgeClient> {
    const url = new URL(BRIDGE_PATH, host.origin);
    url.protocol = 'ws:';
    url.searchParams.set(BRIDGE_TOKEN_PARAM, host.token);
    const ws = new WebSocket(url, [BRIDGE_PROTOCOL], { origin: host.origin, handshakeTimeout: ms });
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new BridgeClient(ws)));
      ws.once('error', reject);
    });
  }

  private onFrame(text: string): void {
    const parsed = v.safeParse(ServerFrameSchema, JSON.parse(text));
    if (!parsed.success) throw new Error(`unreadable bridge frame: ${text.slice(0, 200)}`);
    const frame = parsed.output;
    if (frame.type === 'event') {
      const schema = (events as Record<string, v.GenericSchema>)[frame.event];
      // Validated as the renderer does: a payload outside the contract is a bug worth failing on.
      const payload = schema ? v.parse(schema, frame.payload) : frame.payload;
      this.received.push({ event: frame.event, payload, at: Date.now() });
      for (const l of [...this.listeners]) l(frame.event, payload);
      return;
    }
    const pending = frame.id === null ? undefined : this.pending.get(frame.id);
    if (!pending || frame.id === null) return;
    this.pending.delete(frame.id);
    clearTimeout(pending.timer);
    if (frame.result.ok) pending.resolve(frame.result.value);
    else pending.reject(new BridgeRequestError(pending.channel, frame.result.error as BridgeRequestError['error']));
  }

  request<C extends Channel>(channel: C, payload: RequestOf<C>, ms?: number): Promise<ResponseOf<C>> {
    const id = this.nextId++;
    const timeout = ms ?? requestTimeoutMs(channel, 30_000);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new BridgeTimeoutError(`answer to ${channel}`, timeout));
      }, timeout);
      this.pending.set(id, { channel, resolve: resolve as (v: unknown) => void, reject, timer });
      this.ws.send(JSON.stringify({ type: 'request', id, channel, payload }));
    });
  }

  /** The first event `name` (received from now on) whose payload matches, within `ms`. */
  waitForEvent<E extends EventName>(name: E, match: (payload: EventOf<E>) => boolean, ms: number): Promise<EventOf<E>> {
    return new Promise((resolve, reject) => {
      const listener = (event: string, payload: unknown) => {
        if (event !== name || !match(payload as EventOf<E>)) return;
        done();
        resolve(payload as EventOf<E>);
      };
      const timer = setTimeout(() => {
        done();
        reject(new BridgeTimeoutError(`${name} event matching`, ms));
      }, ms);
      const done = () => {
        clearTimeout(timer);
        this.listeners.delete(listener);
      };
      this.listeners.add(listener);
    });
  }

  close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close();
      setTimeout(() => {
        this.ws.terminate();
        resolve();
      }, 2_000).unref();
    });
  }
}

/**
 * The backend's overlay status once `match` holds (now, or in a later `overlay.status` event), within `ms`;
 * on timeout the error carries the last status seen.
 */
export async function overlayStatusWhen(
  host: { origin: string; token: string },
  match: (status: EventOf<'overlay.status'>) => boolean,
  ms: number,
): Promise<EventOf<'overlay.status'>> {
  const client = await BridgeClient.connect(host);
  try {
    let last: EventOf<'overlay.status'> | undefined;
    const later = client.waitForEvent('overlay.status', (s) => ((last = s), match(s)), ms);
    later.catch(() => undefined);
    const now = await client.request('overlay.status', {});
    last ??= now;
    if (match(now)) return now;
    return await later.catch((error: Error) => {
      throw new Error(`${error.message}; last status: ${JSON.stringify(last)}`);
    });
  } finally {
    await client.close();
  }
}

/**
 * Forgets every identity of a running backend (the keychain entries go with them): tests and benchmarks leave
 * no keys behind, even in a keychain that is not the throwaway one of scripts/with-keyring.sh. Best effort.
 */
export async function forgetIdentities(host: { origin: string; token: string }): Promise<void> {
  const client = await BridgeClient.connect(host).catch(() => undefined);
  if (!client) return;
  try {
    const { certificates } = await client.request('identity.status', {});
    for (const c of certificates)
      await client.request('identity.forget', { id: c.id, confirm: true }).catch(() => undefined);
  } catch {
    // The backend may be stopping; its data folder is removed anyway.
  } finally {
    await client.close();
  }
}
