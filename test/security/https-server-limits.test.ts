/**
 * Issue 10, item 7: the overlay's HTTPS server (configuration document and enrollment) must not let a client
 * hold a connection open for free. Slow headers, slow bodies and idle keep-alive connections are cut off,
 * and connections beyond the caps per address and in total are closed at once while others still get in.
 * Short limits through the server's options here; the defaults are asserted to be short too.
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_SERVER_LIMITS,
  startOverlayServer,
  type RunningOverlayServer,
  type ServerLimits,
} from '../../src-main/host/overlay/overlay-server';
import { memoryLogger } from '../support/fixtures';
import { closed, closesWithin, parseAnswer, testOverlay, tlsTo, type TestOverlay } from './enrollment-support';

let site: TestOverlay;
let server: RunningOverlayServer | undefined;
const open: TLSSocket[] = [];

beforeAll(async () => {
  site = await testOverlay();
}, 60_000);
afterAll(async () => site?.remove());
afterEach(async () => {
  for (const socket of open.splice(0)) socket.destroy();
  await server?.close();
  server = undefined;
});

async function serve(limits: Partial<ServerLimits>): Promise<RunningOverlayServer> {
  server = await startOverlayServer(site.overlay, memoryLogger().log, { host: '127.0.0.1', port: 0, limits });
  return server;
}

async function connectFrom(port: number, address: string): Promise<TLSSocket> {
  const socket = await tlsTo(port, site.caPem, address);
  open.push(socket);
  return socket;
}

/** True if a TLS connection from `address` is refused (reset or closed before or right after the handshake). */
async function refused(port: number, address: string): Promise<boolean> {
  try {
    const socket = await connectFrom(port, address);
    return await closesWithin(socket, 1000);
  } catch {
    return true;
  }
}

const CONFIG_GET = 'GET /.well-known/reload-config HTTP/1.1\r\nhost: x\r\n\r\n';

async function fetchConfig(port: number, address: string): Promise<number> {
  const socket = await connectFrom(port, address);
  const answer = closed(socket);
  socket.write(CONFIG_GET.replace('\r\n\r\n', '\r\nconnection: close\r\n\r\n'));
  return parseAnswer(await answer).status;
}

/** Writes `text` one byte every `everyMs` until the socket closes or the text runs out. */
function trickle(socket: TLSSocket, text: string, everyMs: number): () => void {
  let i = 0;
  const timer = setInterval(() => {
    if (socket.destroyed || i >= text.length) clearInterval(timer);
    else socket.write(text[i++] as string);
  }, everyMs);
  return () => clearInterval(timer);
}

/**
 * Trickles `text` (a byte every 50 ms) until the server cuts the connection: how long that took (ms), or
 * Infinity if it was still open after 3 s.
 */
async function trickleUntilCut(socket: TLSSocket, text: string): Promise<number> {
  const stop = trickle(socket, text, 50);
  const started = Date.now();
  const cut = await closesWithin(socket, 3000);
  stop();
  return cut ? Date.now() - started : Infinity;
}

describe('overlay HTTPS server limits', () => {
  it('has short defaults', () => {
    expect(DEFAULT_SERVER_LIMITS.headersTimeoutMs).toBeLessThanOrEqual(10_000);
    expect(DEFAULT_SERVER_LIMITS.requestTimeoutMs).toBeLessThanOrEqual(30_000);
    expect(DEFAULT_SERVER_LIMITS.keepAliveTimeoutMs).toBeLessThanOrEqual(5_000);
    expect(DEFAULT_SERVER_LIMITS.idleTimeoutMs).toBeLessThanOrEqual(30_000);
    expect(DEFAULT_SERVER_LIMITS.handshakeTimeoutMs).toBeLessThanOrEqual(10_000);
    expect(DEFAULT_SERVER_LIMITS.maxConnectionsPerAddress).toBeLessThanOrEqual(32);
    expect(DEFAULT_SERVER_LIMITS.maxConnections).toBeLessThanOrEqual(1024);
    expect(DEFAULT_SERVER_LIMITS.maxRequestsPerSocket).toBeLessThanOrEqual(1000);
    expect(DEFAULT_SERVER_LIMITS.maxConnectionLifetimeMs).toBeLessThanOrEqual(10 * 60_000);
    expect(DEFAULT_SERVER_LIMITS.maxConnectionsPerNetwork).toBeLessThanOrEqual(
      4 * DEFAULT_SERVER_LIMITS.maxConnectionsPerAddress,
    );
  });

  it('runs with the defaults unless told otherwise', async () => {
    const running = await serve({ keepAliveTimeoutMs: 1234 });
    expect(running.limits).toEqual({ ...DEFAULT_SERVER_LIMITS, keepAliveTimeoutMs: 1234 });
  });

  it('cuts off a slowloris client that sends its headers byte by byte', async () => {
    const running = await serve({ headersTimeoutMs: 500, requestTimeoutMs: 1000 });
    const socket = await connectFrom(running.port, '127.0.0.5');
    const headers = `${CONFIG_GET.slice(0, -2)}${'x-slow: a\r\n'.repeat(200)}\r\n`;
    expect(await trickleUntilCut(socket, headers)).toBeLessThan(2500);
  });

  it('cuts off a request whose body arrives too slowly', async () => {
    const running = await serve({ headersTimeoutMs: 500, requestTimeoutMs: 800 });
    const socket = await connectFrom(running.port, '127.0.0.5');
    socket.write(
      'POST /enroll HTTP/1.1\r\nhost: x\r\ncontent-type: multipart/form-data; boundary=b\r\ncontent-length: 1000\r\n\r\n',
    );
    expect(await trickleUntilCut(socket, '-'.repeat(1000))).toBeLessThan(2500);
  });

  it('closes an idle keep-alive connection', async () => {
    const running = await serve({ keepAliveTimeoutMs: 300 });
    const socket = await connectFrom(running.port, '127.0.0.5');
    const first = new Promise<string>((resolve) => socket.once('data', (c: Buffer) => resolve(c.toString('latin1'))));
    socket.write(CONFIG_GET);
    expect(parseAnswer(await first).status).toBe(200);
    expect(await closesWithin(socket, 2000)).toBe(true);
  });

  it('closes a connection that never starts its TLS handshake', async () => {
    const running = await serve({ handshakeTimeoutMs: 300 });
    const tcp: Socket = tcpConnect({ host: '127.0.0.1', port: running.port, localAddress: '127.0.0.5' });
    const gone = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 2000);
      tcp.on('error', () => undefined);
      tcp.once('close', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    const cut = await gone;
    tcp.destroy();
    expect(cut).toBe(true);
  });

  it('closes a connection that says nothing after the handshake', async () => {
    const running = await serve({ idleTimeoutMs: 300 });
    const socket = await connectFrom(running.port, '127.0.0.5');
    expect(await closesWithin(socket, 2000)).toBe(true);
  });

  it('refuses connections beyond the cap per address while another address still gets in', async () => {
    const running = await serve({ maxConnectionsPerAddress: 3 });
    for (let i = 0; i < 3; i++) await connectFrom(running.port, '127.0.0.6');
    expect(await refused(running.port, '127.0.0.6')).toBe(true);
    expect(await fetchConfig(running.port, '127.0.0.7')).toBe(200);
  });

  it('at the total cap, a new address is served: the oldest connection of the biggest holder makes room', async () => {
    const running = await serve({ maxConnections: 4 });
    const held = [];
    for (let i = 0; i < 4; i++) held.push(await connectFrom(running.port, '127.0.0.20'));
    // The biggest holder gets no more...
    expect(await refused(running.port, '127.0.0.20')).toBe(true);
    // ...while a newcomer gets in, and the holder's oldest connection is the one closed for it.
    const oldest = closed(held[0] as TLSSocket);
    expect(await fetchConfig(running.port, '127.0.0.31')).toBe(200);
    await oldest;
    expect(held.slice(1).every((s) => !s.destroyed)).toBe(true);
  });

  it('16 addresses holding every connection with a request every few seconds do not keep a new address out', async () => {
    // The reviewer's 16 × 16 = 256, scaled to 4 × 4 = 16, with a request on each connection every 200 ms.
    const running = await serve({ maxConnectionsPerAddress: 4, maxConnections: 16, keepAliveTimeoutMs: 1_000 });
    const held: TLSSocket[] = [];
    for (let a = 0; a < 4; a++)
      for (let i = 0; i < 4; i++) {
        const socket = await connectFrom(running.port, `127.0.1.${a + 1}`);
        socket.on('data', () => undefined);
        held.push(socket);
      }
    let rounds = 0;
    const timer = setInterval(() => {
      rounds++;
      for (const s of held) if (!s.destroyed) s.write(CONFIG_GET);
    }, 200);
    try {
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(await fetchConfig(running.port, '127.0.2.99')).toBe(200);
      expect(await fetchConfig(running.port, '127.0.2.98')).toBe(200);
    } finally {
      clearInterval(timer);
    }
    expect(rounds).toBeGreaterThan(1);
  });

  it('closes a keep-alive connection after its maximum number of requests', async () => {
    const running = await serve({ maxRequestsPerSocket: 3 });
    const socket = await connectFrom(running.port, '127.0.0.8');
    let text = '';
    socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
    // The third answer is written at once (a 404), the others after a file read.
    socket.write(CONFIG_GET + CONFIG_GET + CONFIG_GET.replace('reload-config', 'nothing') + CONFIG_GET + CONFIG_GET);
    const cut = await closesWithin(socket, 2000);
    expect(cut).toBe(true);
    expect(text.match(/HTTP\/1\.1 \d+/g)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 200', 'HTTP/1.1 404']);
  });

  it('closes a busy keep-alive connection at the end of its maximum lifetime', async () => {
    const running = await serve({ maxConnectionLifetimeMs: 500 });
    const socket = await connectFrom(running.port, '127.0.0.9');
    socket.on('data', () => undefined);
    const timer = setInterval(() => socket.destroyed || socket.write(CONFIG_GET), 100);
    const started = Date.now();
    const cut = await closesWithin(socket, 3000);
    clearInterval(timer);
    expect(cut).toBe(true);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
