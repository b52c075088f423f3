/**
 * The app joins an operator's overlay (issue 12) with real processes: the overlay made with the real CLI
 * (`overlay init`, `add-user`, `serve`) and two headless peers (`npm run peer`), and a backend (the composition
 * root Electron and browser mode run) that discovers the served configuration, enrolls over HTTPS, joins, and
 * shows in the headless peers' rings; quitting sends Leave, so they drop it at once. The keychain is an
 * in-memory CredentialStore (the real one: test/unit/src-main/app/credentials and the browser e2e tests). The app
 * refetches a newer configuration from the served URL with the overlay’s CA (config-follow).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackend, type Backend } from '../../src-main/app/backend';
import { followConfiguration } from '../../src-main/app/peer/config-follow';
import { createLogger } from '../../src-main/common/logger';
import type { ConfigurationStale, ReloadNode } from '../../src-main/reload/node';
import type { OverlayOffer, OverlayStatus } from '../../src-shared/model/overlay';
import { peerRing, startOperatorOverlay, type OperatorOverlay } from '../support/app-operator-overlay';
import { memoryCredentialStore } from '../support/fixtures';
import { pollUntil } from '../support/poll-until';

const OVERLAY = 'app-peer.example.org';
const PASSWORD = 'correct horse battery staple';
const log = createLogger({ level: 'error' });

let overlay: OperatorOverlay | undefined;
let backend: Backend | undefined;
const dataDir = mkdtempSync(join(tmpdir(), 'app-peer-operator-'));

beforeAll(async () => {
  overlay = await startOperatorOverlay({
    name: OVERLAY,
    users: [{ user: `alice@${OVERLAY}`, password: PASSWORD }],
    peers: 2,
  });
}, 180_000);

afterAll(async () => {
  await backend?.stop('test over');
  await overlay?.close();
  rmSync(dataDir, { recursive: true, force: true });
}, 30_000);

async function request<T>(b: Backend, channel: string, payload: unknown = {}): Promise<T> {
  const r = await b.dispatcher.dispatch({ channel, payload });
  if (!r.ok) throw new Error(`${channel}: ${r.error.code} ${r.error.reason ?? ''} ${r.error.message}`);
  return r.value as T;
}

describe('the app joins an operator overlay made with the CLI', () => {
  let nodeId = '';

  it('discovers, enrolls and joins; the headless peers have it in their rings', async () => {
    const o = overlay!;
    backend = await createBackend({
      dataDir,
      mode: 'browser',
      appName: 'test',
      appVersion: '0',
      versions: { node: process.versions.node, electron: null, chrome: null },
      log,
      credentials: async () => memoryCredentialStore(),
      network: { host: '127.0.0.1', advertiseHost: '127.0.0.1', hostAddresses: ['127.0.0.1'] },
      fetch: { tlsCa: [readFileSync(o.caCertFile, 'utf8')] },
    });
    const seen: OverlayStatus[] = [];
    backend.events.subscribe((m) => m.event === 'overlay.status' && seen.push(m.payload as OverlayStatus));
    const offer = await request<OverlayOffer>(backend, 'overlay.discover', { source: o.configUrl });
    expect(offer).toMatchObject({ overlay: OVERLAY, enrollment: true });
    await request(backend, 'identity.enroll', {
      overlay: { kind: 'operator', offer: offer.offer, acceptSigner: offer.signers[0]!.fingerprint },
      userName: 'alice',
      password: PASSWORD,
    });
    const joined = await request<OverlayStatus>(backend, 'overlay.join');
    expect(joined).toMatchObject({
      state: 'joined',
      overlay: OVERLAY,
      local: false,
      userName: `alice@${OVERLAY}`,
      configuration: { source: o.configUrl, sequence: offer.sequence },
    });
    nodeId = joined.nodeId!;
    // Every step of onboarding was reported, and all are done once our certificate is stored in the overlay.
    const done = await pollUntil(
      'every step done',
      async () => {
        const s = await request<OverlayStatus>(backend!, 'overlay.status');
        return s.steps.every((x) => x.status === 'done') ? s : undefined;
      },
      20_000,
    );
    expect(done.steps.map((x) => x.step)).toEqual([
      'configuration',
      'key-pair',
      'certificate',
      'links',
      'ring',
      'registered',
    ]);
    expect(seen.some((s) => s.state === 'joining')).toBe(true);
    await pollUntil(
      'both headless peers list the app as a neighbour',
      async () => {
        const rings = await Promise.all(o.peers.map(peerRing));
        return rings.every((r) => [...r.successors, ...r.predecessors].includes(nodeId)) ? true : undefined;
      },
      30_000,
    );
    const s = await request<OverlayStatus>(backend, 'overlay.status');
    expect([...s.predecessors, ...s.successors].some((id) => o.peerNodeIds.includes(id))).toBe(true);
    expect(s.links.reduce((n, l) => n + l.count, 0)).toBeGreaterThan(0);
  }, 120_000);

  it('refetches a newer configuration from the served URL with the overlay’s trust anchors', async () => {
    const o = overlay!;
    // What followConfiguration reads of a node: the configuration events and install (a real node's are in
    // test/unit/src-main/reload/node/config-update.test.ts); the fetch is real HTTPS against `serve`.
    const follow = (tlsCa?: string[]) => {
      let stale: ((e: ConfigurationStale) => void) | undefined;
      const installed: string[] = [];
      const node = {
        onConfigurationChanged: () => () => undefined,
        onConfigurationStale: (l: (e: ConfigurationStale) => void) => ((stale = l), () => (stale = undefined)),
        configuration: { install: (text: string) => void installed.push(text) },
      } as unknown as ReloadNode;
      const stop = followConfiguration(node, {
        source: o.configUrl,
        overlayName: OVERLAY,
        ...(tlsCa ? { tlsCa } : {}),
        log,
      });
      stale?.({ from: 'ab', ourSequence: 1, theirSequence: 2 });
      return { installed, stop };
    };
    const trusted = follow([readFileSync(o.caCertFile, 'utf8')]);
    await pollUntil('installed', async () => (trusted.installed.length > 0 ? true : undefined), 10_000);
    expect(trusted.installed[0]).toContain(`instance-name="${OVERLAY}"`);
    trusted.stop();
    // Without the overlay's CA the server is not trusted: nothing is installed.
    const untrusted = follow();
    await new Promise((r) => setTimeout(r, 1_500));
    expect(untrusted.installed).toEqual([]);
    untrusted.stop();
  }, 30_000);

  it('quitting sends Leave: the headless peers drop the app at once, within the 5 s bound', async () => {
    const o = overlay!;
    const outcomes = await backend!.stop('quit');
    backend = undefined;
    const peer = outcomes.find((x) => x.name.startsWith('overlay peer'));
    expect(peer?.status).toBe('done');
    expect(peer!.ms).toBeLessThan(5_000);
    await pollUntil(
      'the headless peers drop the app',
      async () => {
        const rings = await Promise.all(o.peers.map(peerRing));
        return rings.every((r) => ![...r.successors, ...r.predecessors].includes(nodeId)) ? true : undefined;
      },
      3_000,
    );
  }, 30_000);
});
