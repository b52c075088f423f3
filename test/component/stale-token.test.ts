/**
 * A page whose token is not the running host's (a link from an earlier run): the real browser-mode host
 * refuses the WebSocket, and the page says what happened and what to do instead of "connection closed".
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { render, screen } from '@testing-library/svelte';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import App from '../../src-renderer/App.svelte';
import { createClient, STALE_TOKEN_MESSAGE, WebSocketTransport } from '../../src-renderer/bridge';
import { BRIDGE_PATH, BRIDGE_TOKEN_PARAM } from '../../src-shared/ipc/envelope';
import { BridgeClosedError } from '../../src-shared/ipc/errors';

let child: ChildProcess | undefined;
let origin: string;
const jsdomWebSocket = globalThis.WebSocket;

beforeAll(async () => {
  // The component project resolves packages with the "browser" condition, which hands jsdom's WebSocket the
  // `ws` package's browser stub. The renderer's transport gets the Node client of the same package instead
  // (by file path, past the exports map): a real WebSocket with the DOM's event interface.
  // A browser fires "error" then "close"; Node's client throws an "error" nobody listens to, so listen.
  const NodeWebSocket = createRequire(import.meta.url)(resolve('node_modules/ws/index.js')) as new (
    ...args: unknown[]
  ) => { on(event: 'error', listener: () => void): void };
  globalThis.WebSocket = class extends NodeWebSocket {
    constructor(...args: unknown[]) {
      super(...args);
      this.on('error', () => undefined);
    }
  } as unknown as typeof WebSocket;
  child = spawn(process.execPath, ['--import', 'tsx', 'test/support/web-host-process.ts'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  origin = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the web host did not start within 20 s')), 20_000);
    lines.once('line', (line) => {
      clearTimeout(timer);
      resolve((JSON.parse(line) as { origin: string }).origin);
    });
    child!.once('exit', (code) => reject(new Error(`the web host exited with ${code}`)));
  });
}, 30_000);
afterAll(() => {
  globalThis.WebSocket = jsdomWebSocket;
  child?.kill('SIGTERM');
});

function staleTransport(): WebSocketTransport {
  const url = new URL(BRIDGE_PATH, origin);
  url.protocol = 'ws:';
  url.searchParams.set(BRIDGE_TOKEN_PARAM, 'token-of-an-earlier-run');
  return new WebSocketTransport(url.toString());
}

describe('a token from an earlier run', () => {
  it('the transport ends in "refused" and requests fail saying the link is old', async () => {
    const client = createClient(staleTransport());
    const error = await client.request('app.info', {}).catch((e: unknown) => e);
    expect(client.state).toBe('refused');
    expect(error).toBeInstanceOf(BridgeClosedError);
    expect((error as Error).message).toBe(STALE_TOKEN_MESSAGE);
  });

  it('the page says the link is from an earlier run and to open the URL the backend printed', async () => {
    render(App, { props: { client: createClient(staleTransport()) } });
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('Cannot reach the softphone backend');
    expect(alert).toHaveTextContent('from an earlier run');
    expect(alert).toHaveTextContent('Open the URL the backend printed');
    expect(alert.textContent).not.toMatch(/connection .* is closed/);
    expect(screen.getByTestId('connection-state')).toHaveTextContent('Backend refused this page');
  });
});
