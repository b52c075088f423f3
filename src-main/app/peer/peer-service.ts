/**
 * The app's one running peer (issue 12): started with the active identity when the backend starts (a restart
 * rejoins without asking anything), on `overlay.join`, again when the identity is renewed or imported, and
 * stopped (handover + Leave) on `overlay.leave`, before an identity is forgotten and on quit. It keeps the
 * OverlayStatus the renderer shows and pushes it whenever it changes: the join steps as they happen (the
 * identity side reports configuration, key pair and certificate), then neighbours, links and stored records,
 * polled while running and sent only when something changed.
 */
import type { Logger } from '../../common/logger';
import { ServiceError } from '../../common/service-error';
import type { ReloadNode } from '../../reload/node';
import type { SipService } from '../../sip/index';
import {
  JOIN_STEPS,
  type JoinStep,
  type JoinStepStatus,
  type OverlayState,
  type OverlayStatus,
} from '../../../src-shared/model/overlay';
import type { UserError } from '../../../src-shared/model/user-errors';
import type { ActiveIdentity, IdentityApi } from '../identity/identity-api';
import { toUserError, UserFacingError } from '../user-facing-error';
import { followConfiguration } from './config-follow';
import { startLocalPeer } from './local-peer';
import { startPeerRuntime } from './peer-runtime';

export interface PeerNetworkOptions {
  /** Where overlay links listen (default 0.0.0.0: every interface, any free port). Tests use 127.0.0.1. */
  host?: string;
  /** The address No-ICE candidates name when `host` is a wildcard. */
  advertiseHost?: string;
  /** Extra ICE host candidates (werift gathers the interfaces' own; loopback needs naming). */
  hostAddresses?: string[];
  /** The IPv4 address of the interface the local overlay's mDNS uses (default: every interface). */
  lanInterface?: string;
  /** Trust anchors for refetching an operator's configuration over HTTPS (default: the system's). */
  tlsCa?: (string | Buffer)[];
}

/** A running peer of either kind; the local overlay's node changes when it rejoins. */
export interface RunningPeer {
  node(): ReloadNode | undefined;
  sip(): SipService | undefined;
  close(): Promise<void>;
}

export interface PeerServiceOptions {
  identity: Pick<IdentityApi, 'active' | 'onActiveChanged' | 'onStep'>;
  log: Logger;
  /** Publishes `overlay.status`. */
  emit: (status: OverlayStatus) => void;
  network?: PeerNetworkOptions;
  /** The local SIP interface's port on 127.0.0.1 (0 or absent: none; the renderer's UA uses IPC). */
  sipPort?: number;
  /** How long joining may take before the overlay counts as unreachable (default 30 s). */
  joinTimeoutMs?: number;
  /** How often neighbours, links and stored records are read while running (default 2 s). */
  pollMs?: number;
  now?: () => number;
  /** Starts the peer for an identity (default: real sockets, startPeerRuntime or startLocalPeer). */
  startPeer?: (active: ActiveIdentity, o: StartPeerContext) => Promise<RunningPeer>;
}

export interface StartPeerContext {
  network: PeerNetworkOptions;
  sipPort: number;
  log: Logger;
  /** Aborted when the join is given up (timeout, leave, quit): stop retrying, close what was started. */
  signal: AbortSignal;
  /** Called as soon as the peer exists, before it is in the ring (the status shows its links meanwhile). */
  onPeer(peer: RunningPeer): void;
}

/** The join did not finish in time: nobody answered at the bootstrap addresses (or the ring did not take us). */
export class JoinTimeoutError extends UserFacingError {
  constructor(overlay: string, ms: number) {
    super(
      'overlay-unreachable',
      `No peer of ${overlay} answered within ${Math.round(ms / 1000)} s; the overlay may be down or your network may block it.`,
    );
  }
}

/** The join was stopped by leave or quit before it finished. */
export class JoinCancelledError extends UserFacingError {
  constructor() {
    super('not-joined', 'You left the overlay before joining finished.');
  }
}

const hex = (s: string) => s.toLowerCase();
const JOIN_ATTEMPT_PAUSE_MS = 2_000;

export class PeerService {
  private running: RunningPeer | undefined;
  private active: ActiveIdentity | undefined;
  private state: OverlayState = 'no-identity';
  private reason: string | null = null;
  private since: number;
  private lastError: UserError | null = null;
  private steps = new Map<JoinStep, JoinStepStatus>();
  private hadNeighbours = false;
  private partitionsSeen = 0;
  private joining: Promise<OverlayStatus> | undefined;
  private abort: AbortController | undefined;
  private tail: Promise<unknown> = Promise.resolve();
  private poller: NodeJS.Timeout | undefined;
  private lastSent = '';
  private stopped = false;
  private readonly offs: (() => void)[] = [];
  private readonly now: () => number;

  constructor(private readonly o: PeerServiceOptions) {
    this.now = o.now ?? Date.now;
    this.since = this.now();
    this.resetSteps();
    this.offs.push(
      o.identity.onStep((step, status, detail) => {
        // A new onboarding starts with the configuration: what followed belongs to the previous attempt.
        if (step === 'configuration' && status === 'active') this.resetSteps();
        this.setStep(step, status, detail);
        // Onboarding shows each step as it happens; the identity side reports a handful per join.
        this.publish();
      }),
      o.identity.onActiveChanged((active, cause) => {
        if (cause === 'forgotten' || !active) {
          this.active = undefined;
          this.abort?.abort(new JoinCancelledError());
          void this.serial(async () => {
            await this.shutdownPeer();
            this.setState('no-identity', null);
          });
        } else {
          // A running peer presents the old certificate: start again with the new one. An import joins by
          // itself; a new identity joins when the renderer asks (overlay.join after onboarding).
          const wasRunning = this.running !== undefined || this.joining !== undefined;
          this.active = active;
          if (wasRunning || cause === 'imported')
            void this.serial(() => this.shutdownPeer()).then(() => this.join().catch(() => undefined));
        }
      }),
    );
  }

  /** At backend start: join with the active identity, if there is one; failures end in the status. */
  async start(): Promise<void> {
    let active: ActiveIdentity | undefined;
    try {
      active = await this.o.identity.active();
    } catch (error) {
      this.lastError = toUserError(error, this.now());
      this.setState('offline', `Cannot read this device’s identity: ${this.lastError.message}`);
      return;
    }
    if (!active) {
      this.setState('no-identity', null);
      return;
    }
    this.active = active;
    await this.join().catch(() => undefined);
  }

  status(): OverlayStatus {
    const node = this.running?.node();
    const s = node?.status();
    const links = new Map<string, number>();
    for (const link of s?.transport.links ?? []) links.set(link.type, (links.get(link.type) ?? 0) + 1);
    const active = this.active;
    return {
      state: this.state,
      reason: this.reason,
      since: this.since,
      overlay: active?.overlay ?? null,
      local: active?.local ?? false,
      configuration: active ? { source: active.source, sequence: active.config.sequence, signer: active.signer } : null,
      userName: active?.userName ?? null,
      nodeId: s ? hex(s.nodeId) : null,
      predecessors: (s?.predecessors ?? []).map(hex),
      successors: (s?.successors ?? []).map(hex),
      links: [...links].map(([transport, count]) => ({ transport, count })),
      storedRecords: s?.storage.values ?? 0,
      storedBytes: s?.storage.bytes ?? 0,
      steps: JOIN_STEPS.map((step) => this.steps.get(step) ?? { step, status: 'pending' as const }),
      lastError: this.lastError,
    };
  }

  /**
   * Joins with the active identity; answers once we are in the ring. A join already under way is shared;
   * joined already: the status at once.
   */
  join(): Promise<OverlayStatus> {
    if (this.stopped) return Promise.reject(new UserFacingError('busy', 'The app is shutting down.'));
    if (this.joining) return this.joining;
    if (this.running && this.state !== 'offline') return Promise.resolve(this.status());
    const joining = this.serial(() => this.doJoin());
    this.joining = joining;
    void joining.then(
      () => (this.joining = undefined),
      () => (this.joining = undefined),
    );
    return joining;
  }

  /** Hands our range over, sends Leave, stops the peer; the identity stays. */
  async leave(reason = 'You left the overlay.'): Promise<OverlayStatus> {
    this.abort?.abort(new JoinCancelledError());
    await this.serial(async () => {
      await this.shutdownPeer();
      this.setState(this.active ? 'offline' : 'no-identity', this.active ? reason : null);
    });
    return this.status();
  }

  /** Quit: leave (bounded by the shutdown hook's timeout) and stop listening to the identity side. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.abort?.abort(new JoinCancelledError());
    for (const off of this.offs.splice(0)) off();
    await this.serial(() => this.shutdownPeer());
  }

  /** The active identity's id while the peer runs with it. */
  get runningIdentity(): string | undefined {
    return this.running ? this.active?.id : undefined;
  }

  private async doJoin(): Promise<OverlayStatus> {
    let active = this.active;
    if (!active) {
      active = await this.o.identity.active().catch((error: unknown) => {
        throw error instanceof ServiceError
          ? error
          : new UserFacingError('internal', 'Cannot read this device’s identity.', { cause: error });
      });
      this.active = active;
    }
    if (!active)
      throw new UserFacingError('identity-missing', 'This device has no identity yet: join an overlay first.');
    const joinTimeoutMs = this.o.joinTimeoutMs ?? 30_000;
    const abort = new AbortController();
    this.abort = abort;
    this.lastError = null;
    this.hadNeighbours = false;
    this.partitionsSeen = 0;
    // An identity made earlier (a restart, an import) has its configuration, key pair and certificate already.
    for (const step of ['configuration', 'key-pair', 'certificate'] as const)
      if (this.steps.get(step)?.status === 'pending') this.setStep(step, 'done');
    for (const step of ['links', 'ring', 'registered'] as const) this.setStep(step, 'pending');
    this.setStep('links', 'active');
    this.setState('joining', `Joining ${active.overlay}…`);
    const log = this.o.log.child({ component: 'peer', overlay: active.overlay });
    // Given up (timeout, leave, quit): the join ends at once with the reason, whatever the peer is waiting on.
    const givenUp = new Promise<never>((_, reject) => {
      abort.signal.addEventListener('abort', () => reject(abort.signal.reason as Error), { once: true });
    });
    const timer = setTimeout(() => abort.abort(new JoinTimeoutError(active.overlay, joinTimeoutMs)), joinTimeoutMs);
    const linkWatch = setInterval(() => this.watchJoin(), 200);
    let started: RunningPeer | undefined;
    try {
      const start = (this.o.startPeer ?? startRealPeer)(active, {
        network: this.o.network ?? {},
        sipPort: this.o.sipPort ?? 0,
        log,
        signal: abort.signal,
        onPeer: (peer) => {
          if (!abort.signal.aborted) this.running = peer;
        },
      });
      // A peer that comes up after the join was given up is closed, not leaked.
      void start.then(
        (peer) => {
          if (abort.signal.aborted) void peer.close().catch(() => undefined);
        },
        () => undefined,
      );
      started = await Promise.race([start, givenUp]);
      this.running = started;
    } catch (error) {
      clearTimeout(timer);
      clearInterval(linkWatch);
      abort.abort();
      await this.shutdownPeer();
      const failure =
        error instanceof UserFacingError
          ? error
          : new UserFacingError(
              'overlay-unreachable',
              `Could not join ${active.overlay}: ${(error as Error).message}`,
              {
                cause: error,
              },
            );
      if (failure instanceof JoinCancelledError) {
        // Not a failure: the person (or quit) stopped it; leave() sets the state.
        for (const step of ['links', 'ring', 'registered'] as const) this.setStep(step, 'pending');
        throw failure;
      }
      this.lastError = toUserError(failure, this.now());
      for (const step of ['links', 'ring', 'registered'] as const)
        if (this.steps.get(step)?.status === 'active') this.setStep(step, 'failed');
      this.setState('offline', failure.message);
      log.warn('joining failed', { reason: failure.reason, error: (error as Error).message });
      throw failure;
    }
    clearTimeout(timer);
    clearInterval(linkWatch);
    this.watchJoin();
    this.setStep('links', 'done', this.linkDetail());
    this.setStep('ring', 'done');
    this.setState('joined', null);
    this.startPolling();
    void this.watchRegistration(started);
    return this.status();
  }

  /** While joining: the links step is done at the first link. */
  private watchJoin(): void {
    const node = this.running?.node();
    if (node && node.links.size > 0 && this.steps.get('links')?.status === 'active') {
      this.setStep('links', 'done', this.linkDetail());
      this.setStep('ring', 'active');
      this.publish();
    }
  }

  private linkDetail(): string | undefined {
    const n = this.running?.node()?.links.size;
    return n === undefined ? undefined : `${n} link${n === 1 ? '' : 's'}`;
  }

  private async watchRegistration(peer: RunningPeer): Promise<void> {
    this.setStep('registered', 'active');
    this.publish();
    const outcome = await peer.node()?.certificatePublication;
    if (peer !== this.running) return;
    if (outcome === 'published') this.setStep('registered', 'done');
    else if (outcome === 'failed')
      this.setStep('registered', 'failed', 'storing our certificate failed; other peers fetch it from us instead');
    else this.setStep('registered', 'skipped', 'this overlay has no certificate Kinds');
    this.publish();
  }

  private startPolling(): void {
    clearInterval(this.poller);
    this.poller = setInterval(() => this.poll(), this.o.pollMs ?? 2_000);
    this.poller.unref?.();
  }

  private poll(): void {
    const peer = this.running;
    if (!peer) return;
    const node = peer.node();
    if (!node) {
      if (this.state === 'joined') this.setState('joining', 'Rejoining the local overlay…');
      else this.publish();
      return;
    }
    const s = node.status();
    const neighbours = s.predecessors.length + s.successors.length;
    // A partition check that found another ring (RFC 6940 §10.7.4.3) since the last poll; the node merges them.
    const sawOtherRing = s.partitionChecks.partitions > this.partitionsSeen;
    this.partitionsSeen = s.partitionChecks.partitions;
    if (s.state !== 'ready') {
      if (this.state === 'joined') this.setState('joining', 'Rejoining the ring…');
    } else if (sawOtherRing) {
      this.setState('partitioned', 'A bootstrap peer knows another ring of this overlay; merging the two.');
    } else if (neighbours > 0) {
      this.hadNeighbours = true;
      if (this.state !== 'joined') this.setState('joined', null);
    } else if (this.hadNeighbours && this.state !== 'partitioned') {
      this.setState('partitioned', 'No other peer of the overlay is reachable; still trying.');
    } else if (this.state === 'joining') this.setState('joined', null);
    this.publish();
  }

  private async shutdownPeer(): Promise<void> {
    clearInterval(this.poller);
    this.poller = undefined;
    const peer = this.running;
    this.running = undefined;
    if (peer) {
      try {
        await peer.close();
      } catch (error) {
        this.o.log.warn('stopping the peer failed', { error: (error as Error).message });
      }
    }
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.tail.then(work, work);
    this.tail = run.catch(() => undefined);
    return run;
  }

  private resetSteps(): void {
    for (const step of JOIN_STEPS) this.steps.set(step, { step, status: 'pending' });
  }

  private setStep(step: JoinStep, status: JoinStepStatus['status'], detail?: string): void {
    this.steps.set(step, { step, status, ...(detail ? { detail: detail.slice(0, 200) } : {}) });
  }

  private setState(state: OverlayState, reason: string | null): void {
    if (state !== this.state || reason !== this.reason) {
      this.state = state;
      this.reason = reason === null ? null : reason.slice(0, 500);
      this.since = this.now();
    }
    this.publish();
  }

  /** Sends the status when anything in it changed. */
  private publish(): void {
    const status = this.status();
    const text = JSON.stringify(status);
    if (text === this.lastSent) return;
    this.lastSent = text;
    try {
      this.o.emit(status);
    } catch (error) {
      this.o.log.warn('overlay status not sent', { error: (error as Error).message });
    }
  }
}

/** Real sockets: the zero-configuration local overlay (mDNS) or an operator's overlay (bootstrap peers). */
async function startRealPeer(active: ActiveIdentity, o: StartPeerContext): Promise<RunningPeer> {
  const host = o.network.host ?? '0.0.0.0';
  const common = {
    privateKey: active.privateKey,
    chain: active.chain,
    listen: { host, port: 0 },
    ...(o.network.hostAddresses ? { hostAddresses: o.network.hostAddresses } : {}),
    ...(o.sipPort ? { sipPort: o.sipPort } : {}),
    log: o.log,
  };
  if (active.local) {
    const local = await startLocalPeer({
      ...common,
      ...(o.network.lanInterface ? { interface: o.network.lanInterface } : {}),
      line: (value) => o.log.debug('local overlay', { event: value }),
    });
    const peer: RunningPeer = { node: () => local.node(), sip: () => local.sip(), close: once(() => local.close()) };
    o.onPeer(peer);
    return peer;
  }
  const runtime = await startPeerRuntime({
    ...common,
    config: active.config,
    ...(active.configDocument ? { configDocument: active.configDocument } : {}),
    ...(o.network.advertiseHost ? { advertiseHost: o.network.advertiseHost } : {}),
  });
  const unfollow = /^https:\/\//.test(active.source)
    ? followConfiguration(runtime.node, {
        source: active.source,
        overlayName: active.overlay,
        ...(o.network.tlsCa ? { tlsCa: o.network.tlsCa } : {}),
        log: o.log,
      })
    : () => undefined;
  const peer: RunningPeer = {
    node: () => runtime.node,
    sip: () => runtime.sip,
    close: once(async () => {
      unfollow();
      await runtime.close();
    }),
  };
  o.onPeer(peer);
  // A join can fail while the ring repairs itself (a dead hop not yet noticed): try again until given up.
  for (let attempt = 1; ; attempt++) {
    try {
      await runtime.node.start();
      return peer;
    } catch (error) {
      if (!o.signal.aborted) {
        o.log.warn('join failed; retrying', { attempt, error: (error as Error).message });
        await new Promise((resolve) => setTimeout(resolve, JOIN_ATTEMPT_PAUSE_MS));
      }
      if (o.signal.aborted) {
        await peer.close();
        throw error;
      }
    }
  }
}

/** Runs `work` once; later calls share its outcome (a peer is closed by whoever comes first). */
function once(work: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => (done ??= work());
}
