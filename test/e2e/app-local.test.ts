/**
 * Issue 12 end to end: two browser-mode backends on one machine (two hosts, two data folders) onboard to the
 * zero-configuration local overlay with a user name only, and each sees the other as a ring neighbour: in its
 * overlay.status and in Settings → Overlay. Their keychain entries (the real Secret Service) stay apart.
 *
 *   bash scripts/with-keyring.sh npx vitest run --project e2e test/e2e/app-local.test.ts
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_ID } from '../../src-main/app/app-identity';
import type { OverlayStatus } from '../../src-shared/model/overlay';
import { forgetIdentities, overlayStatusWhen } from '../support/app-bridge-client';
import { secretsInFolder } from '../support/app-data-folder';
import { keychainAccounts, secretServiceAvailable } from '../support/app-keychain';
import {
  captureOnFailure,
  clearResults,
  indicator,
  LOCAL_OVERLAY_ARGS,
  openApp,
  PLAIN_PRIVATE_KEY,
  screenshots,
  waitForState,
  type AppPage,
} from './app-page';
import { launchChromium, startHost, type RunningHost } from './harness';

const SUITE = 'app-local';
/** The local overlay's join window (looking for others before forming alone) plus links and the ring. */
const JOIN_MS = 45_000;
const shot = screenshots(SUITE);

let browser: Browser | undefined;
const hosts: RunningHost[] = [];
/** The hosts' data folders (kept across a stop, so one can be started again). */
const dataDirs: string[] = [];
const pages: AppPage[] = [];
const frames: string[] = [];

const status = (host: RunningHost) => overlayStatusWhen(host, () => true, 5_000);

const neighbours = (s: OverlayStatus) => [...s.successors, ...s.predecessors];

async function accountsOf(host: RunningHost): Promise<string[]> {
  const id = (await readFile(join(host.dataDir, 'installation-id'), 'utf8').catch(() => '')).trim();
  if (!id) return [];
  return (await keychainAccounts(APP_ID)).filter((a) => a.startsWith(`${id}/`));
}

beforeAll(async () => {
  await clearResults(SUITE);
  if (!(await secretServiceAvailable()))
    throw new Error('no Secret Service: run under scripts/with-keyring.sh (see the comment at the top of this file)');
  browser = await launchChromium();
  for (let i = 0; i < 2; i++) {
    dataDirs.push(await mkdtemp(join(tmpdir(), 'softphone-local-app-')));
    hosts.push(await startHost({ dataDir: dataDirs[i]!, args: LOCAL_OVERLAY_ARGS }));
  }
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await Promise.all(hosts.map((h) => forgetIdentities(h).then(() => h.stop())));
  await Promise.all(dataDirs.map((d) => rm(d, { recursive: true, force: true })));
}, 60_000);

describe('two browser-mode backends on the local overlay', () => {
  it('each joins with a user name only, and each sees the other as a ring neighbour', async () => {
    captureOnFailure(
      SUITE,
      'ann',
      () => pages[0]?.page,
      () => hosts,
    );
    const names = ['ann', 'bob'];
    for (const [i, host] of hosts.entries()) {
      const app = await openApp(browser!, host, frames);
      pages.push(app);
      const { page } = app;
      await page.getByRole('heading', { level: 1, name: 'Welcome to Reload Softphone' }).waitFor();
      // The local overlay is the default choice: nothing to pick, only a name to type.
      expect(await page.getByRole('radio', { name: 'This network (no account needed)' }).isChecked()).toBe(true);
      await page.getByRole('textbox', { name: 'User name' }).fill(names[i]!);
      if (i === 0) await shot(page, 'welcome');
      await page.getByRole('button', { name: 'Join', exact: true }).click();
      await waitForState(page, 'joined', JOIN_MS);
      expect(await indicator(page).textContent()).toContain('Online');
      await shot(page, `${names[i]!}-online`);
    }

    // The ring of two: each is the other's successor and predecessor (bounded: the second join's
    // Update reaches the first within a few seconds).
    const started = Date.now();
    let a = await status(hosts[0]!);
    let b = await status(hosts[1]!);
    while (!(neighbours(a).includes(b.nodeId ?? '-') && neighbours(b).includes(a.nodeId ?? '-'))) {
      if (Date.now() - started > 30_000)
        throw new Error(
          `not neighbours after 30 s: ${JSON.stringify({ a: neighbours(a), b: neighbours(b), ids: [a.nodeId, b.nodeId] })}`,
        );
      await new Promise((resolve) => setTimeout(resolve, 500));
      [a, b] = await Promise.all([status(hosts[0]!), status(hosts[1]!)]);
    }
    expect(a).toMatchObject({ state: 'joined', local: true, overlay: b.overlay });
    expect(b).toMatchObject({ state: 'joined', local: true });
    expect(a.userName).toMatch(/^ann@/);
    expect(b.userName).toMatch(/^bob@/);

    for (const [i, { page }] of pages.entries()) {
      const other = i === 0 ? b.nodeId! : a.nodeId!;
      await page.getByRole('navigation', { name: 'Main' }).getByRole('button', { name: 'Settings' }).click();
      await page.getByRole('button', { name: 'Overlay', exact: true }).click();
      const section = page.getByRole('region', { name: 'Overlay' });
      await section.getByText(other).first().waitFor({ timeout: 10_000 });
      await shot(page, `${names[i]!}-settings-overlay`);
    }
    for (const p of pages) expect(p.errors).toEqual([]);
  }, 150_000);

  it('each installation keeps its key in the keychain under its own id; no key reaches a page or a data folder', async () => {
    const [ann, bob] = await Promise.all(hosts.map(accountsOf));
    expect(ann!.length).toBeGreaterThan(0);
    expect(bob!.length).toBeGreaterThan(0);
    expect(ann!.filter((a) => bob!.includes(a))).toEqual([]);
    for (const host of hosts) expect(await secretsInFolder(host.dataDir, [])).toEqual([]);
    expect(frames.filter((f) => PLAIN_PRIVATE_KEY.test(f) || f.includes('PRIVATE KEY'))).toEqual([]);
  });

  it('Ctrl-C on one backend: it stops within its 5 s bound after Leave, and the other sees it go', async () => {
    captureOnFailure(
      SUITE,
      'quit',
      () => pages[0]?.page,
      () => hosts,
    );
    const [ann, bob] = hosts as [RunningHost, RunningHost];
    const bobId = (await status(bob)).nodeId!;
    expect(neighbours(await status(ann))).toContain(bobId);
    const t0 = Date.now();
    expect(await bob.stop()).toBe(0);
    const stopped = Date.now() - t0;
    expect(stopped, `stopping took ${stopped} ms`).toBeLessThan(7_000);
    expect(bob.stderr()).toContain('shutdown finished');
    // Leave tells ann at once; without it, ann would notice only when the link dies (tens of seconds).
    await overlayStatusWhen(ann, (s) => !neighbours(s).includes(bobId), 5_000);
    await pages[0]!.page
      .getByRole('region', { name: 'Overlay' })
      .getByText(bobId)
      .first()
      .waitFor({ state: 'detached', timeout: 5_000 });
    await shot(pages[0]!.page, 'ann-after-bob-quit');
    // Bob back on his data folder only to forget his key (afterAll does it for the running hosts).
    hosts[1] = await startHost({ dataDir: dataDirs[1]!, args: LOCAL_OVERLAY_ARGS });
  }, 60_000);
});
