/**
 * PeerService's state machine (issue 12): what `overlay.status` says and when it is sent, driven through the
 * `startPeer` seam by a scripted peer. The real peer on sockets (local overlay, operator overlays, a bootstrap
 * address nobody answers) is in test/integration/app-peer*.test.ts.
 */
import { generateKeyPairSync } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type {
  ActiveIdentity,
  IdentityApi,
  IdentityChangeCause,
} from '../../../../../src-main/app/identity/identity-api';
import {
  JoinCancelledError,
  PeerService,
  type RunningPeer,
  type StartPeerContext,
} from '../../../../../src-main/app/peer/peer-service';
import { toUserError, UserFacingError } from '../../../../../src-main/app/user-facing-error';
import { KeychainUnavailableError } from '../../../../../src-main/app/credentials/credential-store';
import type { ReloadNode } from '../../../../../src-main/reload/node';
import type { OverlayStatus } from '../../../../../src-shared/model/overlay';
import { OverlayStatusSchema } from '../../../../../src-shared/model/overlay';
import * as v from 'valibot';
import { memoryLogger } from '../../../../support/fixtures';

const NODE = 'ab'.repeat(16);
const OTHER = 'cd'.repeat(16);

function identity(id = 'alice'): ActiveIdentity {
  return {
    id,
    overlay: 'example.org',
    local: false,
    userName: `${id}@example.org`,
    privateKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey,
    chain: [new Uint8Array([1])],
    config: { sequence: 3 } as ActiveIdentity['config'],
    configDocument: undefined,
    source: 'https://example.org/.well-known/reload-config',
    signer: 'AA:BB',
  };
}

/** What PeerService reads of a ReloadNode: its status, its link table's size and the certificate's publication. */
class ScriptedNode {
  state = 'ready';
  links = 0;
  predecessors: string[] = [];
  successors: string[] = [];
  partitions = 0;
  values = 0;
  publication: Promise<'published' | 'failed' | 'not-configured'> = Promise.resolve('published');
  asNode(): ReloadNode {
    const self = (): ScriptedNode => this;
    return {
      get links() {
        return { size: self().links };
      },
      get certificatePublication() {
        return self().publication;
      },
      status: () => ({
        nodeId: NODE,
        state: self().state,
        predecessors: self().predecessors,
        successors: self().successors,
        transport: { links: Array.from({ length: self().links }, () => ({ type: 'TLS-TCP-FH-NO-ICE' })) },
        partitionChecks: { checks: 0, partitions: self().partitions, unreachable: 0 },
        storage: { values: self().values, bytes: self().values * 100 },
      }),
    } as unknown as ReloadNode;
  }
}

/** The identity side's seam: the active identity and its two events, fired by the test. */
class ScriptedIdentity implements Pick<IdentityApi, 'active' | 'onActiveChanged' | 'onStep'> {
  current: ActiveIdentity | undefined;
  activeFails: Error | undefined;
  private changed = new Set<(a: ActiveIdentity | undefined, c: IdentityChangeCause) => void>();
  private steps = new Set<Parameters<IdentityApi['onStep']>[0]>();
  constructor(current?: ActiveIdentity) {
    this.current = current;
  }
  async active() {
    if (this.activeFails) throw this.activeFails;
    return this.current;
  }
  onActiveChanged(l: (a: ActiveIdentity | undefined, c: IdentityChangeCause) => void) {
    this.changed.add(l);
    return () => this.changed.delete(l);
  }
  onStep(l: Parameters<IdentityApi['onStep']>[0]) {
    this.steps.add(l);
    return () => this.steps.delete(l);
  }
  change(next: ActiveIdentity | undefined, cause: IdentityChangeCause) {
    this.current = next;
    for (const l of this.changed) l(next, cause);
  }
  step(...args: Parameters<Parameters<IdentityApi['onStep']>[0]>) {
    for (const l of this.steps) l(...args);
  }
  get listeners() {
    return this.changed.size + this.steps.size;
  }
}

interface Harness {
  service: PeerService;
  seen: OverlayStatus[];
  started: { active: ActiveIdentity; ctx: StartPeerContext }[];
  closed: string[];
  node: ScriptedNode;
  /** Lets the pending start finish (the node is in the ring). */
  finish(): void;
  fail(error: Error): void;
}

const services: PeerService[] = [];
afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.stop()));
});

function harness(ids: ScriptedIdentity, o: { joinTimeoutMs?: number; pollMs?: number; autoFinish?: boolean } = {}) {
  const seen: OverlayStatus[] = [];
  const started: Harness['started'] = [];
  const closed: string[] = [];
  let node = new ScriptedNode();
  let finish: () => void = () => undefined;
  let fail: (e: Error) => void = () => undefined;
  const service = new PeerService({
    identity: ids,
    log: memoryLogger().log,
    emit: (s) => seen.push(structuredClone(s)),
    ...(o.joinTimeoutMs ? { joinTimeoutMs: o.joinTimeoutMs } : {}),
    pollMs: o.pollMs ?? 20,
    startPeer: (active, ctx) => {
      started.push({ active, ctx });
      node = new ScriptedNode();
      h.node = node;
      const n = node.asNode();
      const peer: RunningPeer = { node: () => n, sip: () => undefined, close: async () => void closed.push(active.id) };
      ctx.onPeer(peer);
      return new Promise<RunningPeer>((resolve, reject) => {
        finish = () => resolve(peer);
        fail = reject;
        if (o.autoFinish) {
          node.links = 1;
          node.successors = [OTHER];
          resolve(peer);
        }
      });
    },
  });
  services.push(service);
  const h: Harness = { service, seen, started, closed, node, finish: () => finish(), fail: (e) => fail(e) };
  return h;
}

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));
const stepOf = (s: OverlayStatus, step: string) => s.steps.find((x) => x.step === step)?.status;

describe('PeerService', () => {
  it('without an identity: no-identity once, and join is refused with identity-missing', async () => {
    const h = harness(new ScriptedIdentity());
    await h.service.start();
    expect(h.seen.map((s) => s.state)).toEqual(['no-identity']);
    const error = await h.service.join().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserFacingError);
    expect((error as UserFacingError).reason).toBe('identity-missing');
    expect(h.started).toHaveLength(0);
    expect(h.service.status()).toMatchObject({ state: 'no-identity', nodeId: null, overlay: null });
  });

  it('a keychain that cannot be read: offline with why, and the app keeps running', async () => {
    const ids = new ScriptedIdentity();
    ids.activeFails = new UserFacingError('keychain-unavailable', 'No keychain is available.');
    const h = harness(ids);
    await h.service.start();
    const s = h.service.status();
    expect(s.state).toBe('offline');
    expect(s.reason).toMatch(/No keychain/);
    expect(s.lastError?.code).toBe('keychain-unavailable');
  });

  it('start with an identity joins without a request; the steps go forward in order; every status is valid', async () => {
    const ids = new ScriptedIdentity(identity());
    const h = harness(ids);
    const starting = h.service.start();
    await tick();
    expect(h.service.status()).toMatchObject({
      state: 'joining',
      overlay: 'example.org',
      userName: 'alice@example.org',
    });
    expect(stepOf(h.service.status(), 'links')).toBe('active');
    h.node.links = 2;
    await tick(250); // the join watch notices the first link
    expect(stepOf(h.service.status(), 'links')).toBe('done');
    expect(stepOf(h.service.status(), 'ring')).toBe('active');
    h.node.successors = [OTHER];
    h.finish();
    await starting;
    await tick();
    const s = h.service.status();
    expect(s).toMatchObject({
      state: 'joined',
      nodeId: NODE,
      successors: [OTHER],
      links: [{ transport: 'TLS-TCP-FH-NO-ICE', count: 2 }],
      configuration: { source: 'https://example.org/.well-known/reload-config', sequence: 3, signer: 'AA:BB' },
      lastError: null,
    });
    // The identity existed before this start: its own steps count as done.
    expect(s.steps.map((x) => x.status)).toEqual(['done', 'done', 'done', 'done', 'done', 'done']);
    for (const sent of h.seen) expect(v.safeParse(OverlayStatusSchema, sent).success).toBe(true);
    // Forward only: each step's status never goes back from done.
    for (const step of ['links', 'ring', 'registered']) {
      const statuses = h.seen.map((x) => stepOf(x, step));
      const firstDone = statuses.indexOf('done');
      expect(firstDone).toBeGreaterThanOrEqual(0);
      expect(statuses.slice(firstDone).every((x) => x === 'done')).toBe(true);
    }
    const order = h.seen.map((x) => x.state);
    expect(order.indexOf('joining')).toBeLessThan(order.indexOf('joined'));
  });

  it('sends only changes: polling an unchanged peer sends nothing, a new stored record sends one event', async () => {
    const h = harness(new ScriptedIdentity(identity()), { autoFinish: true, pollMs: 10 });
    await h.service.start();
    await tick(100);
    const before = h.seen.length;
    await tick(200); // ~20 polls
    expect(h.seen.length).toBe(before);
    h.node.values = 4;
    await tick(50);
    expect(h.seen.length).toBe(before + 1);
    expect(h.seen.at(-1)).toMatchObject({ storedRecords: 4, storedBytes: 400 });
    for (let i = 1; i < h.seen.length; i++) expect(h.seen[i]).not.toEqual(h.seen[i - 1]);
  });

  it('the identity side’s steps show in the status; a new onboarding starts the steps again', async () => {
    const ids = new ScriptedIdentity();
    const h = harness(ids);
    await h.service.start();
    ids.step('configuration', 'active');
    expect(stepOf(h.seen.at(-1)!, 'configuration')).toBe('active'); // each step is sent as it happens
    ids.step('configuration', 'done', 'sequence 3');
    ids.step('key-pair', 'done');
    ids.step('certificate', 'failed');
    const s = h.service.status();
    expect(s.steps.slice(0, 3)).toEqual([
      { step: 'configuration', status: 'done', detail: 'sequence 3' },
      { step: 'key-pair', status: 'done' },
      { step: 'certificate', status: 'failed' },
    ]);
    expect(stepOf(h.seen.at(-1)!, 'certificate')).toBe('failed');
    ids.step('configuration', 'active');
    expect(h.service.status().steps.map((x) => x.status)).toEqual([
      'active',
      'pending',
      'pending',
      'pending',
      'pending',
      'pending',
    ]);
  });

  it('joins at once are one join; joined already answers the status', async () => {
    const h = harness(new ScriptedIdentity(identity()));
    const a = h.service.join();
    const b = h.service.join();
    expect(b).toBe(a);
    await tick();
    h.node.successors = [OTHER];
    h.finish();
    const [sa, sb] = await Promise.all([a, b]);
    expect(sa.state).toBe('joined');
    expect(sb.nodeId).toBe(NODE);
    expect(h.started).toHaveLength(1);
    expect((await h.service.join()).state).toBe('joined');
    expect(h.started).toHaveLength(1);
  });

  it('nobody answers within the bound: overlay-unreachable, offline with lastError, the peer closed', async () => {
    const h = harness(new ScriptedIdentity(identity()), { joinTimeoutMs: 150 });
    const started = Date.now();
    const error = await h.service.join().catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect((error as UserFacingError).reason).toBe('overlay-unreachable');
    expect((error as Error).message).toMatch(/example\.org/);
    expect(h.started[0]!.ctx.signal.aborted).toBe(true);
    expect(h.closed).toEqual(['alice']);
    const s = h.service.status();
    expect(s).toMatchObject({ state: 'offline', nodeId: null });
    expect(s.lastError?.code).toBe('overlay-unreachable');
    expect(stepOf(s, 'links')).toBe('failed');
    expect(h.seen.at(-1)?.state).toBe('offline');
    // A peer that still comes up afterwards is closed, not kept.
    h.finish();
    await tick();
    expect(h.closed).toEqual(['alice', 'alice']);
  });

  it('a start that fails: overlay-unreachable with the cause, never an internal message', async () => {
    const h = harness(new ScriptedIdentity(identity()));
    const joining = h.service.join().catch((e: unknown) => e);
    await tick();
    h.fail(new Error('no bootstrap node answered'));
    const error = (await joining) as UserFacingError;
    expect(error.reason).toBe('overlay-unreachable');
    expect(error.message).toBe('Could not join example.org: no bootstrap node answered');
    expect(h.service.status().lastError).toMatchObject({ code: 'overlay-unreachable' });
  });

  it('leave: handover + Leave (the peer closes), offline "left"; join again starts a new peer', async () => {
    const h = harness(new ScriptedIdentity(identity()), { autoFinish: true });
    await h.service.start();
    const left = await h.service.leave();
    expect(left).toMatchObject({ state: 'offline', reason: 'You left the overlay.', nodeId: null, lastError: null });
    expect(h.closed).toEqual(['alice']);
    expect((await h.service.join()).state).toBe('joined');
    expect(h.started).toHaveLength(2);
  });

  it('leave during a join ends the join at once (not-joined), without a lastError', async () => {
    const h = harness(new ScriptedIdentity(identity()), { joinTimeoutMs: 60_000 });
    const joining = h.service.join().catch((e: unknown) => e);
    await tick();
    const started = Date.now();
    const left = await h.service.leave();
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(await joining).toBeInstanceOf(JoinCancelledError);
    expect(left).toMatchObject({ state: 'offline', reason: 'You left the overlay.', lastError: null });
    expect(h.closed).toEqual(['alice']);
  });

  it('partitioned when the neighbours are gone or a partition check saw another ring; joined when merged', async () => {
    const h = harness(new ScriptedIdentity(identity()), { autoFinish: true, pollMs: 10 });
    await h.service.start();
    await tick(50);
    expect(h.service.status().state).toBe('joined');
    h.node.successors = [];
    await tick(50);
    expect(h.service.status()).toMatchObject({ state: 'partitioned', reason: expect.stringMatching(/No other peer/) });
    h.node.successors = [OTHER];
    await tick(50);
    expect(h.service.status().state).toBe('joined');
    h.node.partitions = 1;
    await tick(15);
    const states = h.seen.map((s) => s.state);
    expect(states.at(-1) === 'partitioned' || states.slice(-2).includes('partitioned')).toBe(true);
    expect(h.seen.some((s) => s.reason?.includes('another ring'))).toBe(true);
    await tick(50);
    expect(h.service.status().state).toBe('joined');
    h.node.state = 'joining';
    await tick(50);
    expect(h.service.status().state).toBe('joining');
  });

  it('a renewed or imported identity restarts the peer with it; forgetting stops it: no-identity', async () => {
    const ids = new ScriptedIdentity(identity('alice'));
    const h = harness(ids, { autoFinish: true });
    await h.service.start();
    ids.change(identity('alice-renewed'), 'renewed');
    await tick(50);
    expect(h.closed).toEqual(['alice']);
    expect(h.started.map((x) => x.active.id)).toEqual(['alice', 'alice-renewed']);
    expect(h.service.runningIdentity).toBe('alice-renewed');
    ids.change(identity('bob'), 'imported');
    await tick(50);
    expect(h.started.map((x) => x.active.id)).toEqual(['alice', 'alice-renewed', 'bob']);
    expect(h.service.status()).toMatchObject({ state: 'joined', userName: 'bob@example.org' });
    ids.change(undefined, 'forgotten');
    await tick(50);
    expect(h.closed).toEqual(['alice', 'alice-renewed', 'bob']);
    expect(h.service.status()).toMatchObject({ state: 'no-identity', userName: null, nodeId: null });
    expect(h.service.runningIdentity).toBeUndefined();
  });

  it('a new identity made while joined restarts the peer with it; made while not running, it waits for join', async () => {
    const ids = new ScriptedIdentity();
    const h = harness(ids, { autoFinish: true });
    await h.service.start();
    ids.change(identity('alice'), 'created');
    await tick(20);
    expect(h.started).toHaveLength(0);
    expect(h.service.status()).toMatchObject({ state: 'no-identity', userName: 'alice@example.org' });
    await h.service.join();
    ids.change(identity('carol'), 'created');
    await tick(50);
    expect(h.closed).toEqual(['alice']);
    expect(h.service.runningIdentity).toBe('carol');
  });

  it('a renewal while offline does not start the peer', async () => {
    const ids = new ScriptedIdentity(identity('alice'));
    const h = harness(ids, { autoFinish: true });
    await h.service.start();
    await h.service.leave();
    ids.change(identity('alice-renewed'), 'renewed');
    await tick(50);
    expect(h.started).toHaveLength(1);
    expect(h.service.status().state).toBe('offline');
  });

  it('stop (quit): the peer closes, the identity listeners go, joining afterwards is refused as busy', async () => {
    const ids = new ScriptedIdentity(identity());
    const h = harness(ids, { autoFinish: true });
    await h.service.start();
    expect(ids.listeners).toBe(2);
    await h.service.stop();
    expect(h.closed).toEqual(['alice']);
    expect(ids.listeners).toBe(0);
    const error = await h.service.join().catch((e: unknown) => e);
    expect((error as UserFacingError).reason).toBe('busy');
  });

  it('stop during a join does not wait for the join bound', async () => {
    const h = harness(new ScriptedIdentity(identity()), { joinTimeoutMs: 60_000 });
    const joining = h.service.join().catch((e: unknown) => e);
    await tick();
    const started = Date.now();
    await h.service.stop();
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(await joining).toBeInstanceOf(JoinCancelledError);
    expect(h.closed).toEqual(['alice']);
  });
});

describe('toUserError', () => {
  it('keeps a user-facing condition’s code and message; anything else is internal without its message', () => {
    expect(toUserError(new UserFacingError('busy', 'Wait.'), 5)).toEqual({ code: 'busy', message: 'Wait.', at: 5 });
    expect(toUserError(new KeychainUnavailableError('no Secret Service'), 7)).toMatchObject({
      code: 'keychain-unavailable',
      message: expect.stringMatching(/no Secret Service/),
    });
    const internal = toUserError(new Error('ENOENT /home/x/.secret'), 6);
    expect(internal.code).toBe('internal');
    expect(internal.message).not.toMatch(/ENOENT|secret/);
  });
});
