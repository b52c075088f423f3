/**
 * Shared by the enrollment and HTTPS-server attack tests: an operator's overlay folder with two accounts, and
 * raw TLS connections from a chosen loopback address (Linux routes all of 127/8 to lo), so a test controls
 * exactly when each byte of a request leaves.
 */
import { connect as tcpConnect } from 'node:net';
import { connect, type TLSSocket } from 'node:tls';
import { AccountStore } from '../../src-main/host/enrollment/account-store';
import { runOverlayCli } from '../../src-main/host/overlay-cli';
import { OverlayDir } from '../../src-main/host/overlay/overlay-dir';
import { createCsr, generateIdentityKeys, multipartBody } from '../../src-main/reload';
import { tempDir } from '../support/fixtures';
import { readFile } from 'node:fs/promises';

export const OVERLAY = 'overlay.example.org';
export const ALICE = { username: `alice@${OVERLAY}`, password: 'correct horse battery' };
export const BOB = { username: `bob@${OVERLAY}`, password: 'another long password' };

export interface TestOverlay {
  overlay: OverlayDir;
  caPem: string;
  remove(): Promise<void>;
}

export async function testOverlay(): Promise<TestOverlay> {
  const dir = await tempDir('overlay-sec-');
  await runOverlayCli(['init', OVERLAY, '--dir', dir.path, '--port', '0'], () => undefined);
  const overlay = await OverlayDir.open(dir.path);
  const accounts = new AccountStore(overlay.path('accounts'));
  await accounts.addUser(ALICE.username, ALICE.password);
  await accounts.addUser(BOB.username, BOB.password);
  accounts.close();
  return { overlay, caPem: await readFile(overlay.path('caCert'), 'utf8'), remove: dir.remove };
}

/** A TLS connection to the server from `localAddress`, resolved once the handshake is done. */
export function tlsTo(port: number, caPem: string, localAddress = '127.0.0.1'): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const tcp = tcpConnect({ host: '127.0.0.1', port, localAddress });
    tcp.once('error', reject);
    // The server certificate names localhost (and 127.0.0.1).
    const socket = connect({ socket: tcp, servername: 'localhost', host: 'localhost', ca: [caPem] }, () =>
      resolve(socket),
    );
    socket.once('error', reject);
  });
}

/** Resolves when the server has closed the connection (or it failed), with the bytes it sent. */
export function closed(socket: TLSSocket): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => undefined);
    if (socket.destroyed) resolve('');
    socket.once('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
  });
}

/** Resolves true if the socket closed within `ms`, false if it was still open then. */
export async function closesWithin(socket: TLSSocket, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const result = await Promise.race([
    closed(socket).then(() => true),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
  ]);
  clearTimeout(timer);
  return result;
}

export interface RawAnswer {
  status: number;
  token: string;
  retryAfter: string | undefined;
}

export function parseAnswer(text: string): RawAnswer {
  const [head = '', body = ''] = text.split('\r\n\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
  const retryAfter = /\r\nretry-after: *(\S+)/i.exec(head)?.[1];
  return { status, token: body.split('\n')[0] ?? '', retryAfter };
}

export async function enrollmentRequest(username: string, password: string): Promise<{ head: string; body: Buffer }> {
  const csr = await createCsr(await generateIdentityKeys('ecdsa'), username);
  const { body, contentType } = multipartBody({ username, password }, csr);
  const head =
    `POST /enroll HTTP/1.1\r\nhost: ${OVERLAY}\r\ncontent-type: ${contentType}\r\n` +
    `content-length: ${body.length}\r\nconnection: close\r\n\r\n`;
  return { head, body };
}

/** Sends a prepared enrollment request on an open connection and reads the answer. */
export async function send(socket: TLSSocket, request: { head: string; body: Buffer }): Promise<RawAnswer> {
  const answer = closed(socket);
  socket.write(Buffer.concat([Buffer.from(request.head, 'latin1'), request.body]));
  return parseAnswer(await answer);
}

/** One enrollment attempt on a fresh connection from `localAddress`. */
export async function attempt(
  port: number,
  caPem: string,
  username: string,
  password: string,
  localAddress = '127.0.0.1',
): Promise<RawAnswer> {
  const request = await enrollmentRequest(username, password);
  return send(await tlsTo(port, caPem, localAddress), request);
}
