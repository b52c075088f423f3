/**
 * The app is a peer (issue 12): backends (the composition root Electron and browser mode run) on real sockets on
 * this machine. Two of them join the zero-configuration local overlay (mDNS on this host's interfaces) and see
 * each other in the ring; joining is shared, leaving sends Leave, a restart on the same data folder rejoins
 * without a request, forgetting ends in no-identity; an operator overlay nobody answers ends offline with
 * overlay-unreachable. The keychain is an in-memory CredentialStore here (the real one is tested under
 * scripts/with-keyring.sh in test/unit/src-main/app/credentials and the browser end-to-end tests).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createBackend, type Backend } from '../../src-main/app/backend';
import type { ActiveIdentity, IdentityApi } from '../../src-main/app/identity/identity-api';
import { PeerService } from '../../src-main/app/peer/peer-service';
import { UserFacingError } from '../../src-main/app/user-facing-error';
import type { CredentialStore } from '../../src-main/app/credentials/credential-store';
import { createLogger } from '../../src-main/common/logger';
import { acceptConfigurationDocument, signedConfigurationDocument } from '../../src-main/reload/config';
import { generateIdentityKeys, issueCertificate } from '../../src-main/reload/identity';
import type { OverlayStatus } from '../../src-shared/model/overlay';
import { freeLoopbackPort } from '../support/sipp';
import { makeOverlay, OVERLAY } from '../support/overlay-fixture';
import { pollUntil } from '../support/poll-until';

const log = createLogger({ level: 'error' });
const dirs: string[] = [];
const backends: Backend[] = [];
afterAll(async () => {
  await Promise.all(backends.map((b) => b.stop('test over')));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function memoryKeychain(): CredentialStore {
  const map = new Map<string, string>();
  return {
    get: async (a) => map.get(a),
    set: async (a, s) => void map.set(a, s),
    delete: async (a) => map.delete(a),
  };
}

async function backend(dataDir: string, keychain: CredentialStore): Promise<Backend> {
  const b = await createBackend({
    dataDir,
    mode: 'browser',
    appName: 'test',
    appVersion: '0',
    versions: { node: process.versions.node, electron: null, chrome: null },
    log,
    credentials: async () => keychain,
    network: { host: '127.0.0.1', advertiseHost: '127.0.0.1', hostAddresses: ['127.0.0.1'] },
  });
  backends.push(b);
  return b;
}

async function request<T>(b: Backend, channel: string, payload: unknown = {}): Promise<T> {
  const r = await b.dispatcher.dispatch({ channel, payload });
  if (!r.ok) throw new Error(`${channel}: ${r.error.code} ${r.error.reason ?? ''} ${r.error.message}`);
  return r.value as T;
}

function statuses(b: Backend): OverlayStatus[] {
  const seen: OverlayStatus[] = [];
  b.events.subscribe((m) => {
    if (m.event === 'overlay.status') seen.push(m.payload as OverlayStatus);
  });
  return seen;
}

describe('the app as a peer of the local overlay', () => {
  const keychainA = memoryKeychain();
  const dirA = mkdtempSync(join(tmpdir(), 'app-peer-a-'));
  const dirB = mkdtempSync(join(tmpdir(), 'app-peer-b-'));
  dirs.push(dirA, dirB);
  let a: Backend;
  let b: Backend;
  let aId: string;

  it('a new backend has no identity; joining without one is refused', async () => {
    a = await backend(dirA, keychainA);
    const s = await pollUntil('first status', async () => {
      const st = await request<OverlayStatus>(a, 'overlay.status');
      return st.state === 'no-identity' ? st : undefined;
    });
    expect(s.nodeId).toBeNull();
    const r = await a.dispatcher.dispatch({ channel: 'overlay.join', payload: {} });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.reason).toBe('identity-missing');
    const bad = await a.dispatcher.dispatch({ channel: 'overlay.leave', payload: { now: true } });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.error.issues?.[0]?.path).toBe('now');
  });

  it('joins with a user name only, the steps in order, and two backends see each other in the ring', async () => {
    const seenA = statuses(a);
    const cert = await request<{ id: string; nodeIds: string[] }>(a, 'identity.createSelfSigned', {
      overlay: { kind: 'local' },
      userName: 'alice',
    });
    aId = cert.id;
    // Two joins at once share one.
    const [j1, j2] = await Promise.all([
      request<OverlayStatus>(a, 'overlay.join'),
      request<OverlayStatus>(a, 'overlay.join'),
    ]);
    expect(j1.state).toBe('joined');
    expect(j2.nodeId).toBe(j1.nodeId);
    expect(j1.nodeId).toBe(cert.nodeIds[0]);
    expect(j1.userName).toBe('alice@local.reload-softphone.invalid');
    // The steps went forward, never back: joining before joined, links before ring.
    const order = seenA.map((s) => s.state);
    expect(order.indexOf('joining')).toBeLessThan(order.indexOf('joined'));
    const linksDone = seenA.findIndex((s) => s.steps.find((x) => x.step === 'links')?.status === 'done');
    const ringDone = seenA.findIndex((s) => s.steps.find((x) => x.step === 'ring')?.status === 'done');
    expect(linksDone).toBeGreaterThanOrEqual(0);
    expect(linksDone).toBeLessThanOrEqual(ringDone);
    await pollUntil('registered', async () => {
      const st = await request<OverlayStatus>(a, 'overlay.status');
      return st.steps.find((x) => x.step === 'registered')?.status === 'done' ? st : undefined;
    });

    b = await backend(dirB, memoryKeychain());
    await request(b, 'identity.createSelfSigned', { overlay: { kind: 'local' }, userName: 'bob' });
    const joinedB = await request<OverlayStatus>(b, 'overlay.join');
    const aNode = j1.nodeId!;
    const bNode = joinedB.nodeId!;
    await pollUntil('each a neighbour of the other', async () => {
      const sa = await request<OverlayStatus>(a, 'overlay.status');
      const sb = await request<OverlayStatus>(b, 'overlay.status');
      const nA = [...sa.predecessors, ...sa.successors];
      const nB = [...sb.predecessors, ...sb.successors];
      return nA.includes(bNode) && nB.includes(aNode) ? true : undefined;
    });
    // B's and A's certificates reach B (as the responsible peer or as a replica) once B's publication is done.
    const sb = await pollUntil('B stores records', async () => {
      const st = await request<OverlayStatus>(b, 'overlay.status');
      return st.storedRecords > 0 ? st : undefined;
    });
    expect(sb.links.reduce((n, l) => n + l.count, 0)).toBeGreaterThan(0);
    expect(sb.storedBytes).toBeGreaterThan(0);
    // Events carry only changes: two identical statuses are never sent one after the other.
    for (let i = 1; i < seenA.length; i++) expect(JSON.stringify(seenA[i])).not.toBe(JSON.stringify(seenA[i - 1]));
  }, 60_000);

  it('leave sends Leave (the other drops us at once) and join comes back', async () => {
    const aNode = (await request<OverlayStatus>(a, 'overlay.status')).nodeId!;
    const left = await request<OverlayStatus>(a, 'overlay.leave');
    expect(left.state).toBe('offline');
    expect(left.reason).toMatch(/left/);
    await pollUntil(
      'B drops A after its Leave',
      async () => {
        const sb = await request<OverlayStatus>(b, 'overlay.status');
        return [...sb.predecessors, ...sb.successors].includes(aNode) ? undefined : true;
      },
      5_000,
    );
    const back = await request<OverlayStatus>(a, 'overlay.join');
    expect(back.state).toBe('joined');
    expect(back.nodeId).toBe(aNode);
  }, 60_000);

  it('a restart on the same data folder rejoins without a request, and quitting takes well under 5 s', async () => {
    const aNode = (await request<OverlayStatus>(a, 'overlay.status')).nodeId!;
    const outcomes = await a.stop('restart');
    const peerStop = outcomes.find((o) => o.name.startsWith('overlay peer'));
    expect(peerStop?.status).toBe('done');
    expect(peerStop!.ms).toBeLessThan(5_000);
    const started = Date.now();
    a = await backend(dirA, keychainA);
    const s = await pollUntil('rejoined', async () => {
      const st = await request<OverlayStatus>(a, 'overlay.status');
      return st.state === 'joined' ? st : undefined;
    });
    expect(s.nodeId).toBe(aNode);
    expect(Date.now() - started).toBeLessThan(15_000);
    // Not asserted here: being in B's ring again soon. A peer restarted with the same Node-ID can be refused with
    // "error 17: glare" while B still attaches to its previous incarnation (seen for ~15 s in the app bench, and
    // over 30 s once in CI): a known defect, written up in docs/decisions.md ("The app as a peer").
  }, 60_000);

  it('forgetting the identity leaves first and ends in no-identity', async () => {
    const st = await request<{ certificates: { id: string }[] }>(a, 'identity.status');
    expect(st.certificates.map((c) => c.id)).toContain(aId);
    await request(a, 'identity.forget', { id: aId, confirm: true });
    const s = await pollUntil('no-identity', async () => {
      const x = await request<OverlayStatus>(a, 'overlay.status');
      return x.state === 'no-identity' ? x : undefined;
    });
    expect(s.nodeId).toBeNull();
  }, 30_000);
});

describe('an operator overlay nobody answers', () => {
  it('ends offline with overlay-unreachable within the join bound, and nothing keeps running', async () => {
    const o = await makeOverlay('ecdsa');
    const dead = await freeLoopbackPort();
    const input = { ...o.input, bootstrapNodes: [{ address: '127.0.0.1', port: dead }] };
    const document = signedConfigurationDocument(input, o.signer, o.signer);
    const config = acceptConfigurationDocument(document, { overlayName: OVERLAY });
    const keys = await generateIdentityKeys('ecdsa');
    const { der } = await issueCertificate({
      ca: o.ca,
      publicKey: keys.webcrypto.publicKey,
      userName: `carol@${OVERLAY}`,
      nodeIds: [Uint8Array.from({ length: 16 }, (_, i) => 0x40 + i)],
      overlay: OVERLAY,
      validDays: 30,
    });
    const active: ActiveIdentity = {
      id: 'carol',
      overlay: OVERLAY,
      local: false,
      userName: `carol@${OVERLAY}`,
      privateKey: keys.privateKey,
      chain: [der],
      config,
      configDocument: document,
      source: 'https://overlay.example.org/.well-known/reload-config',
      signer: null,
    };
    // The identity side's seam with one fixed identity: what is under test is the peer service on real sockets.
    const identity: Pick<IdentityApi, 'active' | 'onActiveChanged' | 'onStep'> = {
      active: async () => active,
      onActiveChanged: () => () => undefined,
      onStep: () => () => undefined,
    };
    const seen: OverlayStatus[] = [];
    const peer = new PeerService({
      identity,
      log,
      emit: (s) => seen.push(s),
      network: { host: '127.0.0.1', advertiseHost: '127.0.0.1', hostAddresses: ['127.0.0.1'] },
      joinTimeoutMs: 3_000,
    });
    const started = Date.now();
    const error = await peer.join().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserFacingError);
    expect((error as UserFacingError).reason).toBe('overlay-unreachable');
    expect(Date.now() - started).toBeLessThan(8_000);
    const s = peer.status();
    expect(s.state).toBe('offline');
    expect(s.lastError?.code).toBe('overlay-unreachable');
    expect(s.steps.find((x) => x.step === 'links')?.status).toBe('failed');
    expect(seen.at(-1)?.state).toBe('offline');
    await peer.stop();
  }, 30_000);
});
