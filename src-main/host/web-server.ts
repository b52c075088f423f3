/**
 * Browser mode: serves the built renderer on loopback and carries the IPC contract over a WebSocket.
 *
 * The socket is the renderer's whole authority over the backend, so it is guarded three ways: a random
 * per-run token (only the URL printed to the person who started the host carries it), the Origin header
 * (another site open in the same browser cannot connect), and the Host header (DNS rebinding cannot turn a
 * foreign name into our origin).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import * as v from 'valibot';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  BRIDGE_PATH,
  BRIDGE_PROTOCOL,
  BRIDGE_TOKEN_PARAM,
  ClientFrameSchema,
  type ServerFrame,
} from '../../src-shared/ipc/envelope';
import { describeIssues, issuesOf } from '../../src-shared/ipc/errors';
import { buildCsp } from '../../src-shared/security/csp';
import type { Backend } from '../app/backend';
import type { Logger } from '../common/logger';
import { readStaticFile } from '../app/renderer-files';

/** Frames larger than this are refused by the socket library before they are parsed. */
export const MAX_FRAME_BYTES = 1 << 20;
/** A client that lets this much pile up unread is cut off rather than growing our memory. */
const MAX_BUFFERED_BYTES = 8 << 20;

export interface WebHostOptions {
  backend: Pick<Backend, 'dispatcher' | 'events'>;
  rendererDir: string;
  log: Logger;
  /** Loopback only; anything else is refused. */
  host?: '127.0.0.1' | '::1';
  port?: number;
  /** For tests; a fresh random token otherwise. */
  token?: string;
}

export interface WebHost {
  readonly url: string;
  readonly origin: string;
  readonly port: number;
  readonly token: string;
  readonly clientCount: number;
  close(): Promise<void>;
}

export class WebHostAddressError extends Error {
  constructor(host: string) {
    super(`browser mode binds to loopback only (127.0.0.1 or ::1), not "${host}"`);
    this.name = 'WebHostAddressError';
  }
}

export async function startWebHost(options: WebHostOptions): Promise<WebHost> {
  const host = options.host ?? '127.0.0.1';
  if (host !== '127.0.0.1' && host !== '::1') throw new WebHostAddressError(host);
  const token = options.token ?? randomBytes(32).toString('base64url');
  const tokenBytes = Buffer.from(token);
  const { backend, log } = options;

  const sockets = new Set<WebSocket>();
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_FRAME_BYTES,
    handleProtocols: (protocols) => (protocols.has(BRIDGE_PROTOCOL) ? BRIDGE_PROTOCOL : false),
  });

  const server = createServer((req, res) => {
    void serveHttp(req, res);
  });
  let port = 0;
  let allowedHosts = new Set<string>();
  let origins = new Set<string>();

  async function serveHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!allowedHosts.has(req.headers.host ?? '')) return plain(res, 421, 'unknown Host header');
    if (req.method !== 'GET' && req.method !== 'HEAD') return plain(res, 405, 'method not allowed');
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const file = await readStaticFile(options.rendererDir, path);
    if (!file) return plain(res, 404, 'not found');
    res.writeHead(200, {
      'content-type': file.contentType,
      'content-length': file.body.length,
      'cache-control': file.cacheable ? 'max-age=3600' : 'no-store',
      'content-security-policy': buildCsp({ header: true, connect: [`ws://${req.headers.host ?? ''}`] }),
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cross-origin-opener-policy': 'same-origin',
    });
    res.end(req.method === 'HEAD' ? undefined : file.body);
  }

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const refusal = checkUpgrade(req);
    if (refusal) {
      log.warn('bridge connection refused', { reason: refusal.reason, origin: req.headers.origin ?? null });
      socket.end(`HTTP/1.1 ${refusal.status} ${refusal.reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => accept(ws));
  });

  function checkUpgrade(req: IncomingMessage): { status: number; reason: string } | undefined {
    if (!allowedHosts.has(req.headers.host ?? '')) return { status: 421, reason: 'Misdirected Request' };
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== BRIDGE_PATH) return { status: 404, reason: 'Not Found' };
    const given = Buffer.from(url.searchParams.get(BRIDGE_TOKEN_PARAM) ?? '');
    if (given.length !== tokenBytes.length || !timingSafeEqual(given, tokenBytes)) {
      return { status: 401, reason: 'Unauthorized' };
    }
    if (!origins.has(req.headers.origin ?? '')) return { status: 403, reason: 'Forbidden' };
    const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    if (!offered.includes(BRIDGE_PROTOCOL)) return { status: 400, reason: 'Bad Request' };
    return undefined;
  }

  function send(ws: WebSocket, frame: ServerFrame): void {
    if (ws.readyState !== ws.OPEN) return;
    if (ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      log.warn('bridge client too slow; disconnecting', { buffered: ws.bufferedAmount });
      ws.terminate();
      return;
    }
    ws.send(JSON.stringify(frame));
  }

  function accept(ws: WebSocket): void {
    sockets.add(ws);
    log.info('bridge client connected', { clients: sockets.size });
    const unsubscribe = backend.events.subscribe((message) => send(ws, { type: 'event', ...message }));
    ws.on('message', (data, isBinary) => {
      void handleFrame(ws, isBinary ? undefined : data.toString());
    });
    ws.on('close', () => {
      unsubscribe();
      sockets.delete(ws);
      log.info('bridge client disconnected', { clients: sockets.size });
    });
    ws.on('error', (error) => log.warn('bridge socket error', { error }));
  }

  async function handleFrame(ws: WebSocket, text: string | undefined): Promise<void> {
    let json: unknown;
    try {
      if (text === undefined) throw new Error('binary frames are not part of the bridge protocol');
      json = JSON.parse(text);
    } catch (error) {
      send(ws, invalidFrame(null, `frame is not JSON text: ${(error as Error).message}`));
      return;
    }
    const frame = v.safeParse(ClientFrameSchema, json);
    if (!frame.success) {
      const id = typeof (json as { id?: unknown } | null)?.id === 'number' ? (json as { id: number }).id : null;
      send(ws, invalidFrame(id, `malformed request frame: ${describeIssues(issuesOf(frame.issues))}`));
      return;
    }
    const { id, channel, payload } = frame.output;
    const result = await backend.dispatcher.dispatch({ channel, payload });
    send(ws, { type: 'response', id, result });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  const hostPart = host === '::1' ? '[::1]' : host;
  allowedHosts = new Set([`${hostPart}:${port}`, `localhost:${port}`]);
  origins = new Set([...allowedHosts].map((h) => `http://${h}`));
  const origin = `http://${hostPart}:${port}`;
  const url = `${origin}/#${BRIDGE_TOKEN_PARAM}=${token}`;

  return {
    url,
    origin,
    port,
    token,
    get clientCount() {
      return sockets.size;
    },
    close: async () => {
      for (const ws of sockets) ws.close(1001, 'host stopping');
      // Give clients a moment to complete the closing handshake, then cut whoever is left.
      const deadline = Date.now() + 1_000;
      while (sockets.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      for (const ws of sockets) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

function invalidFrame(id: number | null, message: string): ServerFrame {
  return { type: 'response', id, result: { ok: false, error: { code: 'invalid-frame', message } } };
}

function plain(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' });
  res.end(text + '\n');
}
