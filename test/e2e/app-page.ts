/**
 * The app in a Chromium page for the issue-12 flows: the accessible names of /tmp/notes/ui-contract.md (the
 * renderer implements them), every WebSocket frame the page receives recorded (to prove no secret reaches the
 * renderer), screenshots of each step under test-results/.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { onTestFailed } from 'vitest';
import type { OverlayState } from '../../src-shared/model/overlay';
import { collectErrors, type RunningHost } from './harness';

/** An unencrypted PEM private key (PKCS#8, SEC1 or PKCS#1); the export answer's ENCRYPTED one is by design. */
export const PLAIN_PRIVATE_KEY = /-----BEGIN (?!ENCRYPTED )[A-Z ]*PRIVATE KEY-----/;

/** The app's peer listens on, advertises and offers as ICE candidate loopback only, as the headless peers do. */
export const LOOPBACK_PEER_ARGS: string[] = ['--peer-host', '127.0.0.1'];

/**
 * The local overlay as a person runs it: mDNS on every interface, the peer on every address (two backends on
 * one machine find each other so; `--lan-interface` would pin mDNS to one interface).
 */
export const LOCAL_OVERLAY_ARGS: string[] = [];

export interface AppPage {
  page: Page;
  /** Console and page errors. */
  errors: string[];
}

/** Opens the host's URL; every frame the page receives from the bridge is appended to `frames`. */
export async function openApp(browser: Browser, host: RunningHost, frames: string[]): Promise<AppPage> {
  const page = await browser.newPage({ acceptDownloads: true });
  const errors = collectErrors(page);
  page.on('websocket', (ws) => ws.on('framereceived', (f) => frames.push(String(f.payload))));
  await page.goto(host.url);
  await indicator(page).waitFor({ timeout: 15_000 });
  return { page, errors };
}

export function indicator(page: Page) {
  return page.getByRole('status', { name: 'Overlay status', exact: true });
}

/** Waits until the status indicator shows `state` (its data-state), within `ms`. */
export async function waitForState(page: Page, state: OverlayState, ms: number): Promise<void> {
  await page.locator(`[role="status"][aria-label="Overlay status"][data-state="${state}"]`).waitFor({ timeout: ms });
}

/** Empties test-results/<suite>/ (in beforeAll), so what is there afterwards is this run's story. */
export async function clearResults(suite: string): Promise<void> {
  await rm(join('test-results', suite), { recursive: true, force: true });
}

/** Screenshots of one test file's steps, numbered in order: test-results/<suite>/NN-<name>.png. */
export function screenshots(suite: string): (page: Page, name: string) => Promise<string> {
  const dir = join('test-results', suite);
  let n = 0;
  return async (page, name) => {
    await mkdir(dir, { recursive: true });
    const file = join(dir, `${String(++n).padStart(2, '0')}-${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    return file;
  };
}

/**
 * On this test's failure: a screenshot of the page as it was and the host's stderr (the last lines) saved under
 * test-results/<suite>/, so the report can say which step failed and why.
 */
export function captureOnFailure(
  suite: string,
  label: string,
  page: () => Page | undefined,
  hosts: () => (RunningHost | undefined)[],
): void {
  onTestFailed(async () => {
    const dir = join('test-results', suite);
    await mkdir(dir, { recursive: true });
    const p = page();
    if (p && !p.isClosed())
      await p.screenshot({ path: join(dir, `failed-${label}.png`), fullPage: true }).catch(() => undefined);
    const logs = hosts()
      .filter((h): h is RunningHost => h !== undefined)
      .map((h) => `== host ${h.pid} (${h.dataDir})\n${h.stderr().slice(-20_000)}`)
      .join('\n');
    await writeFile(join(dir, `failed-${label}.host-stderr.log`), logs);
  });
}
