import { mkdir, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Backend } from '../../../../src-main/app/backend';
import { startWebHost, WebHostAddressError, type WebHost } from '../../../../src-main/host/web-server';
import { BRIDGE_PROTOCOL, type ServerFrame } from '../../../../src-shared/ipc/envelope';
import { memoryLogger, tempDir, testBackend } from '../../../support/fixtures';

let dir: Awaited<ReturnType<typeof tempDir>>;
let backend: Backend;
let host: WebHost;

beforeEach(async () => {
  dir = await tempDir();
  const rendererDir = join(dir.path, 'renderer');
  await mkdir(join(rendererDir, 'assets'), { recursive: true });
  await writeFile(join(rendererDir, 'index.html'), '<!doctype html><title>t</title>');
  await writeFile(join(rendererDir, 'assets', 'app.js'), 'export {}');
  await writeFile(join(dir.path, 'secret.txt'), 'outside the renderer folder');
  backend = await testBackend(join(dir.path, 'data'));
  host = await startWebHost({ backend, rendererDir, log: memoryLogger().log });
});

afterEach(async () => {
  await host.close();
  await dir.remove();
});

/** Raw HTTP, so the test controls the Host header and the path exactly as sent. */
function get(path: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: host.port, path, headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

interface Opened {
  ws: WebSocket;
  frames: ServerFrame[];
  next: () => Promise<ServerFrame>;
}

function connect(options: { token?: string; origin?: string; protocol?: string[] } = {}): Promise<Opened> {
  const url = `ws://127.0.0.1:${host.port}/bridge?token=${encodeURIComponent(options.token ?? host.token)}`;
  const ws = new WebSocket(url, options.protocol ?? [BRIDGE_PROTOCOL], { origin: options.origin ?? host.origin });
  const frames: ServerFrame[] = [];
  const waiters: ((f: ServerFrame) => void)[] = [];
  ws.on('message', (data) => {
    const frame = JSON.parse(String(data)) as ServerFrame;
    const waiter = waiters.shift();
    if (waiter) waiter(frame);
    else frames.push(frame);
  });
  const next = () =>
    new Promise<ServerFrame>((resolve) => {
      const queued = frames.shift();
      if (queued) resolve(queued);
      else waiters.push(resolve);
    });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, frames, next }));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

describe('browser-mode host: HTTP', () => {
  it('serves the renderer with a strict CSP and no caching of index.html', async () => {
    const res = await get('/', { host: `127.0.0.1:${host.port}` });
    expect(res.status).toBe(200);
    expect(res.body).toContain('<title>t</title>');
    expect(res.headers['content-security-policy']).toContain("script-src 'self'");
    expect(res.headers['content-security-policy']).toContain(`ws://127.0.0.1:${host.port}`);
    expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(res.headers['cache-control']).toBe('no-store');
    expect((await get('/assets/app.js', { host: `localhost:${host.port}` })).headers['content-type']).toMatch(
      /javascript/,
    );
  });

  it('refuses foreign Host headers (DNS rebinding), path traversal and other methods', async () => {
    expect((await get('/', { host: `evil.example:${host.port}` })).status).toBe(421);
    for (const path of ['/../secret.txt', '/%2e%2e/secret.txt', '/assets/../../secret.txt', '/%00', '/nope']) {
      const res = await get(path, { host: `127.0.0.1:${host.port}` });
      expect(res.status, path).toBe(404);
      expect(res.body).not.toContain('outside');
    }
  });

  it('listens on loopback only', async () => {
    expect(host.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/#token=[\w-]{43}$/);
    await expect(
      startWebHost({ backend, rendererDir: dir.path, log: memoryLogger().log, host: '0.0.0.0' as never }),
    ).rejects.toBeInstanceOf(WebHostAddressError);
  });
});

describe('browser-mode host: bridge WebSocket', () => {
  it('refuses a connection without the token, with a wrong token, a foreign origin or no subprotocol', async () => {
    await expect(connect({ token: '' })).rejects.toThrow('HTTP 401');
    await expect(connect({ token: host.token.slice(0, -1) + 'x' })).rejects.toThrow('HTTP 401');
    await expect(connect({ origin: 'https://evil.example' })).rejects.toThrow('HTTP 403');
    await expect(connect({ protocol: ['other'] })).rejects.toThrow('HTTP 400');
    expect(host.clientCount).toBe(0);
  });

  it('answers requests and pushes events to every connected client', async () => {
    const a = await connect();
    const b = await connect();
    a.ws.send(JSON.stringify({ type: 'request', id: 7, channel: 'settings.update', payload: { displayName: 'Zoe' } }));
    const settings = { displayName: 'Zoe', theme: 'system' };
    const framesA = [await a.next(), await a.next()];
    expect(framesA).toContainEqual({ type: 'response', id: 7, result: { ok: true, value: settings } });
    expect(framesA).toContainEqual({ type: 'event', event: 'settings.changed', payload: settings });
    expect(await b.next()).toEqual({ type: 'event', event: 'settings.changed', payload: settings });
    a.ws.close();
    b.ws.close();
  });

  it('answers bad frames and bad payloads with typed errors and keeps the connection', async () => {
    const c = await connect();
    c.ws.send('{not json');
    expect(await c.next()).toMatchObject({ type: 'response', id: null, result: { error: { code: 'invalid-frame' } } });
    c.ws.send(JSON.stringify({ type: 'request', id: 'x', channel: 'settings.get', payload: {} }));
    expect(await c.next()).toMatchObject({ id: null, result: { error: { code: 'invalid-frame' } } });
    c.ws.send(JSON.stringify({ type: 'request', id: 2, channel: 'settings.update', payload: { theme: 5 } }));
    expect(await c.next()).toMatchObject({
      id: 2,
      result: { ok: false, error: { code: 'invalid-payload', issues: [{ path: 'theme' }] } },
    });
    c.ws.send(JSON.stringify({ type: 'request', id: 3, channel: 'fs.readFile', payload: {} }));
    expect(await c.next()).toMatchObject({ id: 3, result: { error: { code: 'unknown-channel' } } });
    c.ws.send(Buffer.from([1, 2, 3]));
    expect(await c.next()).toMatchObject({ id: null, result: { error: { code: 'invalid-frame' } } });
    c.ws.send(JSON.stringify({ type: 'request', id: 4, channel: 'settings.get', payload: {} }));
    expect(await c.next()).toMatchObject({ id: 4, result: { ok: true } });
    expect(backend.settings.get()).toEqual({ displayName: '', theme: 'system' });
    c.ws.close();
  });

  it('closes client sockets when the host stops', async () => {
    const c = await connect();
    const closed = new Promise<number>((resolve) => c.ws.once('close', (code) => resolve(code)));
    await host.close();
    expect(await closed).toBe(1001);
    host = await startWebHost({ backend, rendererDir: dir.path, log: memoryLogger().log }); // for afterEach
  });
});
