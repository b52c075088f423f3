/** Browser mode end to end: the built renderer in Chromium, the real host process, the real bridge. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectErrors, launchChromium, startHost, type RunningHost } from './harness';

// The page's globals the evaluated functions below use (this file is type-checked with Node's types only).
declare const location: { href: string };
declare const sessionStorage: { getItem(key: string): string | null };

let host: RunningHost;
let browser: Browser;

beforeAll(async () => {
  [host, browser] = await Promise.all([startHost(), launchChromium()]);
});

afterAll(async () => {
  await browser?.close();
  await host?.stop();
});

async function openApp(): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage();
  const errors = collectErrors(page);
  await page.goto(host.url);
  await page.getByTestId('connection-state').getByText('Backend connected').waitFor();
  return { page, errors };
}

describe('browser mode', () => {
  it('renders the app shell without console errors or CSP violations', async () => {
    const { page, errors } = await openApp();
    // A fresh data folder: the first-run screen instead of the Overview.
    await page.getByRole('heading', { name: 'Welcome to Reload Softphone' }).waitFor();
    expect(await page.getByRole('navigation', { name: 'Main' }).getByRole('button').allTextContents()).toEqual([
      'Overview',
      'Settings',
    ]);
    expect(await page.getByTestId('connection-state').locator('..').textContent()).toMatch(/v\d+\.\d+\.\d+/);
    expect(await page.getByText('Browser mode', { exact: true }).count()).toBe(1);
    // The token left the address bar, and a reload still connects (sessionStorage keeps it).
    expect(new URL(page.url()).hash).toBe('');
    await page.reload();
    await page.getByTestId('connection-state').getByText('Backend connected').waitFor();
    expect(errors).toEqual([]);
    await page.close();
  });

  it('round-trips a request (settings.update) and pushes the event to another tab', async () => {
    const a = await openApp();
    const b = await openApp();
    for (const tab of [a, b]) {
      await tab.page.getByRole('button', { name: 'Settings' }).click();
      await tab.page.getByRole('button', { name: 'Preferences' }).click();
    }
    await a.page.getByLabel('Display name').fill('Grace Hopper');
    await a.page.getByRole('button', { name: 'Save' }).click();
    await a.page.getByRole('status').getByText('Saved').waitFor();
    // Tab b did nothing: only the pushed settings.changed event can change what its form shows.
    await expect.poll(() => b.page.getByLabel('Display name').inputValue(), { timeout: 5_000 }).toBe('Grace Hopper');
    const stored = JSON.parse(await readFile(join(host.dataDir, 'settings.json'), 'utf8')) as unknown;
    expect(stored).toMatchObject({ settings: { displayName: 'Grace Hopper' } });
    expect([...a.errors, ...b.errors]).toEqual([]);
    await Promise.all([a.page.close(), b.page.close()]);
  });

  it('refuses a WebSocket without the token, from the page itself', async () => {
    const { page } = await openApp();
    const outcome = await page.evaluate(async () => {
      const url = new URL('/bridge', location.href);
      url.protocol = 'ws:';
      const ws = new WebSocket(url, ['softphone-bridge.v1']);
      return new Promise<string>((resolve) => {
        ws.onopen = () => resolve('open');
        ws.onclose = (e) => resolve(`closed:${e.code}`);
      });
    });
    expect(outcome).toBe('closed:1006');
    await page.close();
  });

  it('answers an invalid payload with a typed error naming the field, and stores nothing', async () => {
    const { page } = await openApp();
    const answer = await page.evaluate(async () => {
      const url = new URL('/bridge', location.href);
      url.protocol = 'ws:';
      url.searchParams.set('token', sessionStorage.getItem('softphone.bridge-token') ?? '');
      const ws = new WebSocket(url, ['softphone-bridge.v1']);
      await new Promise((resolve) => (ws.onopen = resolve));
      ws.send(JSON.stringify({ type: 'request', id: 1, channel: 'settings.update', payload: { theme: 'neon' } }));
      const frame = await new Promise<string>((resolve) => (ws.onmessage = (e) => resolve(String(e.data))));
      ws.close();
      return JSON.parse(frame) as unknown;
    });
    expect(answer).toMatchObject({
      type: 'response',
      id: 1,
      result: {
        ok: false,
        error: { code: 'invalid-payload', channel: 'settings.update', issues: [{ path: 'theme' }] },
      },
    });
    const stored = await readFile(join(host.dataDir, 'settings.json'), 'utf8').catch(() => '');
    expect(stored).not.toContain('neon');
    await page.close();
  });

  it('shows the field error the backend sends for an invalid display name', async () => {
    const { page } = await openApp();
    await page.getByRole('button', { name: 'Settings' }).click();
    await page.getByRole('button', { name: 'Preferences' }).click();
    await page.getByLabel('Display name').fill('bad\u0007name');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('alert').getByText('must not contain control characters').waitFor();
    await page.close();
  });

  it('explains what to do when opened without the token', async () => {
    const page = await browser.newPage();
    await page.goto(host.origin + '/');
    await page.getByRole('alert').getByText('npm run start:web').waitFor();
    await page.close();
  });
});

describe('browser-mode host shutdown', () => {
  it('stops cleanly on SIGTERM and the page shows the disconnection', async () => {
    const own = await startHost();
    const page = await browser.newPage();
    await page.goto(own.url);
    await page.getByTestId('connection-state').getByText('Backend connected').waitFor();
    expect(await own.stop()).toBe(0);
    await page.getByTestId('connection-state').getByText('Backend disconnected').waitFor();
    expect(own.stderr()).toContain('shutdown finished');
    await page.close();
  });
});
