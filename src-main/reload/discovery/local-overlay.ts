/**
 * The zero-configuration local overlay at run time: LocalDiscovery composed with a RELOAD node, so that copies
 * of the app on one LAN form one overlay with no server and no configuration (config/local-overlay.ts is the
 * configuration).
 *
 *   1. Browse the overlay's peers for `joinWindowMs`, or until `foundGraceMs` after the first one answered (the
 *      others on a LAN answer the same query within milliseconds), while the member is made. If any were found,
 *      join through them (smallest Node-ID first, each peer's every address, the others after it); if none was
 *      found or none admitted us, form the overlay alone.
 *   2. Once in a ring (joined or formed), announce our Node-ID and listening port. Not earlier: a peer that
 *      has not finished joining cannot admit anybody, and two copies started at once then simply form two
 *      one-peer rings that step 3 merges within seconds.
 *   3. Keep browsing, and merge rings that formed separately (two copies started at once, a LAN that was
 *      split). The rule (`decideLocalMerge`, docs/decisions.md "Local overlay: merge rule"): every ring moves
 *      to the ring of the smallest Node-ID on the LAN.
 *        - A peer alone in its ring rejoins at once through any discovered peer with a smaller Node-ID. If it
 *          is the smallest itself it waits `aloneGraceMs` (the larger ones come to it), then rejoins through
 *          the others (they are evidently in a ring that will not come).
 *        - A peer in a ring of several looks at the smallest discovered Node-ID P below its own. If a lookup of
 *          Resource-ID P is answered by P, P is in our ring and so is the smallest peer: nothing to do. If not,
 *          and that stays so for `settleMs` (longer than an alone peer's grace and join, so a lone P joins us
 *          first) and P answers a direct link, this peer leaves and rejoins through P.
 *      Rejoining means: the member is stopped (Leave to its neighbours) and a fresh one, same identity, joins
 *      through the chosen peers; failing that it forms a ring alone again, and the peers that failed are left
 *      out of every decision for `failedPeerHoldMs` (a dead peer's mDNS records outlive it by up to 120 s).
 *
 * Everything here is protocol: the node is behind `LocalOverlayMember` (reloadNodeMember() adapts a
 * ReloadNode), the discovery behind `LocalDiscovery`, time behind `Clock`.
 */
import type { Logger } from '../../common/logger';
import { realClock, type Clock, type TimerHandle } from '../clock';
import type { Link } from '../link/link';
import type { ReloadNode } from '../node';
import type { BootstrapAddress } from '../transport';
import { fromHex, toHex } from '../wire';
import { LocalDiscoveryArgumentError, LocalDiscoveryClosedError } from './errors';
import type { LocalDiscovery, LocalPeer, LocalTransport } from './local-discovery';

/** One incarnation of our node in the local overlay (a rejoin makes a new one with the same identity). */
export interface LocalOverlayMember {
  /** Our Node-ID, lower-case hex. */
  readonly nodeId: string;
  /** The port our bootstrap endpoint listens on (announced). */
  readonly port: number;
  /** Joins through the addresses, or forms the overlay alone. Rejects if the join fails. */
  start(how: { firstNode: true } | { bootstrapNodes: BootstrapAddress[] }): Promise<void>;
  /** True when our ring is just us (no successor and no predecessor). */
  alone(): boolean;
  /** The Node-ID (hex) of the peer our overlay says is responsible for a Resource-ID (hex). */
  responderFor(resourceId: string): Promise<string>;
  /** Whether the peer answers a direct link with its Node-ID (a link opened only for this, then closed). */
  reachable(peer: LocalPeer): Promise<boolean>;
  /** Leaves the overlay and closes everything this member holds. */
  stop(): Promise<void>;
}

export interface LocalOverlayTiming {
  /** How long to browse before the first start (join or form) when nobody answers. Default 2 s. */
  joinWindowMs: number;
  /** Once a peer has answered, how much longer the join window stays open for the others. Default 250 ms. */
  foundGraceMs: number;
  /** How long the smallest peer waits alone before it rejoins through larger ones. Default 5 s. */
  aloneGraceMs: number;
  /** How long a smaller peer must stay outside our ring before a ring of several moves. Default 15 s. */
  settleMs: number;
  /** How often the merge rule is evaluated (also on every discovered peer). Default 2 s. */
  checkIntervalMs: number;
  /** How long a peer through which a join failed is ignored. Default 60 s. */
  failedPeerHoldMs: number;
}

export const DEFAULT_LOCAL_OVERLAY_TIMING: Readonly<LocalOverlayTiming> = {
  joinWindowMs: 2000,
  foundGraceMs: 250,
  aloneGraceMs: 5000,
  settleMs: 15_000,
  checkIntervalMs: 2000,
  failedPeerHoldMs: 60_000,
};

export interface LocalOverlayOptions {
  discovery: LocalDiscovery;
  /** The overlay's instance name (LOCAL_OVERLAY_NAME for the app's default). */
  overlay: string;
  /** How our bootstrap endpoint takes links: 'dtls' for an ICE overlay, 'tls' for No-ICE. */
  transport: LocalTransport;
  /** Makes a fresh member (same identity each time), listening but not started. */
  createMember: () => Promise<LocalOverlayMember>;
  /** The address to announce; default the discovery's interface address(es). */
  host?: string;
  timing?: Partial<LocalOverlayTiming>;
  clock?: Clock;
  log?: Logger;
}

export type LocalOverlayEvent =
  | { type: 'formed'; member: LocalOverlayMember }
  | { type: 'joined'; member: LocalOverlayMember; through: string }
  | { type: 'rejoining'; reason: string; through: string[] };

/** What the merge rule decides (`decideLocalMerge`). */
export type LocalMergeDecision =
  | { action: 'stay' }
  /** Leave and rejoin through these Node-IDs, in order. */
  | { action: 'rejoin'; through: string[]; reason: string }
  /** Look up whether `candidate` is in our ring; the runner tracks how long it has been outside. */
  | { action: 'check'; candidate: string };

export interface LocalMergeInput {
  self: string;
  alone: boolean;
  /** How long we have been alone (0 if not alone). */
  aloneForMs: number;
  /** The discovered peers (not held back after a failure), with how long each has been known. */
  peers: readonly { nodeId: string; seenForMs: number }[];
  /** For a candidate already checked: how long it has been seen outside our ring (undefined: inside or never). */
  outsideForMs?: (nodeId: string) => number | undefined;
  timing: Pick<LocalOverlayTiming, 'aloneGraceMs' | 'settleMs'>;
}

/** Node-IDs as hex of one length compare as strings; a shorter one (malformed overlay) sorts first. */
export function compareNodeIds(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  if (x.length !== y.length) return x.length - y.length;
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * The merge rule, pure: every ring moves to the ring that holds the smallest Node-ID on the LAN, alone peers
 * at once, rings of several only after `settleMs` (module comment).
 */
export function decideLocalMerge(input: LocalMergeInput): LocalMergeDecision {
  const self = input.self.toLowerCase();
  const others = input.peers
    .filter((p) => p.nodeId.toLowerCase() !== self)
    .sort((a, b) => compareNodeIds(a.nodeId, b.nodeId));
  if (others.length === 0) return { action: 'stay' };
  const smaller = others.filter((p) => compareNodeIds(p.nodeId, self) < 0);
  const ids = (list: readonly { nodeId: string }[]) => list.map((p) => p.nodeId.toLowerCase());
  if (input.alone) {
    if (smaller.length > 0)
      return { action: 'rejoin', through: ids(others), reason: 'alone, and a peer with a smaller Node-ID is there' };
    if (input.aloneForMs < input.timing.aloneGraceMs) return { action: 'stay' };
    const settled = others.filter((p) => p.seenForMs >= input.timing.aloneGraceMs);
    if (settled.length === 0) return { action: 'stay' };
    return {
      action: 'rejoin',
      through: [...ids(settled), ...ids(others.filter((p) => !settled.includes(p)))],
      reason: `alone for ${Math.round(input.aloneForMs)} ms with the smallest Node-ID, and nobody came`,
    };
  }
  const candidate = smaller[0];
  if (!candidate) return { action: 'stay' }; // we hold the smallest Node-ID: ours is the ring that stays
  const outside = input.outsideForMs?.(candidate.nodeId.toLowerCase());
  if (outside !== undefined && outside >= input.timing.settleMs)
    return {
      action: 'rejoin',
      through: ids(others), // the candidate first: it is the smallest
      reason: `the smallest peer ${candidate.nodeId.slice(0, 8)} has been outside our ring for ${Math.round(outside)} ms`,
    };
  return { action: 'check', candidate: candidate.nodeId.toLowerCase() };
}

/** The order to try bootstrap addresses in: each chosen peer's addresses, peers in the order given. */
export function bootstrapOrder(through: readonly string[], peers: readonly LocalPeer[]): BootstrapAddress[] {
  const out: BootstrapAddress[] = [];
  const seen = new Set<string>();
  for (const nodeId of through)
    for (const p of peers) {
      const key = `${p.host} ${p.port}`;
      if (p.nodeId.toLowerCase() !== nodeId.toLowerCase() || seen.has(key)) continue;
      seen.add(key);
      out.push({ host: p.host, port: p.port });
    }
  return out;
}

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };

function checkTiming(timing: Partial<LocalOverlayTiming> | undefined): LocalOverlayTiming {
  const out = { ...DEFAULT_LOCAL_OVERLAY_TIMING, ...(timing ?? {}) };
  for (const [key, value] of Object.entries(out))
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
      throw new LocalDiscoveryArgumentError(`timing.${key}`, `${String(value)} is not a duration in ms`);
  if (out.checkIntervalMs < 100) throw new LocalDiscoveryArgumentError('timing.checkIntervalMs', 'must be ≥ 100 ms');
  return out;
}

/** The local overlay: one member at a time, announced, merged by the rule above. */
export class LocalOverlay {
  /** The member in a ring. */
  private current: LocalOverlayMember | undefined;
  /** A member being started (first start or rejoin). */
  private pending: LocalOverlayMember | undefined;
  private readonly timing: LocalOverlayTiming;
  private readonly clock: Clock;
  /** Set during the join window: told of every peer found. */
  private windowWatch: (() => void) | undefined;
  private readonly log: Logger;
  /** Discovered peers by Node-ID: their addresses and when first seen. */
  private readonly known = new Map<string, { addresses: LocalPeer[]; since: number }>();
  /** Peers a join failed through, until when they are ignored. */
  private readonly failed = new Map<string, number>();
  /** Candidates found outside our ring: since when. */
  private readonly outside = new Map<string, number>();
  private aloneSince: number | undefined;
  private readonly listeners = new Set<(event: LocalOverlayEvent) => void>();
  private stopBrowsing: (() => void) | undefined;
  private timer: TimerHandle | undefined;
  private busy = false;
  /** Something changed while busy: check again soon after. */
  private recheck = false;
  private stopped = false;
  private started = false;
  readonly counters = { joins: 0, forms: 0, rejoins: 0, failedJoins: 0, checks: 0 };

  constructor(private readonly o: LocalOverlayOptions) {
    if (typeof o.createMember !== 'function')
      throw new LocalDiscoveryArgumentError('createMember', 'must be a function');
    if (o.transport !== 'tls' && o.transport !== 'dtls')
      throw new LocalDiscoveryArgumentError('transport', 'must be "tls" or "dtls"');
    this.timing = checkTiming(o.timing);
    this.clock = o.clock ?? realClock;
    this.log = o.log ?? silent;
  }

  /** The member in the overlay now (undefined before start and during a rejoin). */
  get member(): LocalOverlayMember | undefined {
    return this.current;
  }

  /** Discovered peers now (Node-ID -> addresses), for status displays. */
  peers(): LocalPeer[] {
    return [...this.known.values()].flatMap((k) => k.addresses);
  }

  on(listener: (event: LocalOverlayEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Browses, joins or forms the overlay, announces; resolves with the first member once it is in a ring. */
  async start(): Promise<LocalOverlayMember> {
    if (this.stopped) throw new LocalDiscoveryClosedError('cannot start: the local overlay was stopped');
    if (this.started) throw new LocalDiscoveryArgumentError('start', 'the local overlay is already started');
    this.started = true;
    this.busy = true;
    try {
      this.stopBrowsing = this.o.discovery.browse(
        this.o.overlay,
        (peer) => this.found(peer),
        (peer) => this.gone(peer),
      );
      // The member (endpoint, node) is made while we browse: it does not announce anything before step 2.
      const making = this.o.createMember();
      making.catch(() => undefined); // awaited below; a failure must not go unhandled while we still browse
      await this.joinWindow();
      const member = (this.pending = await making);
      await this.enter(
        member,
        this.candidates(member.nodeId).map((p) => p.nodeId),
      );
    } finally {
      this.busy = false;
    }
    if (!this.current) throw new LocalDiscoveryClosedError('the local overlay was stopped while starting');
    this.scheduleNext();
    return this.current;
  }

  /** Stops checking and browsing and stops the member (Leave). The discovery stays open (the caller's). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.timer?.cancel();
    this.stopBrowsing?.();
    const members = [this.current, this.pending].filter((m): m is LocalOverlayMember => m !== undefined);
    this.current = this.pending = undefined;
    await Promise.all(members.map((m) => m.stop()));
  }

  /** One evaluation of the merge rule (the timer runs it; tests call it directly). */
  async check(): Promise<LocalMergeDecision> {
    const member = this.current;
    if (this.busy || this.stopped || !this.started) return { action: 'stay' };
    this.busy = true;
    this.counters.checks++;
    try {
      if (!member) {
        // The last rejoin did not complete (no endpoint, discovery trouble): try again from scratch.
        const stale = this.pending;
        this.pending = undefined;
        await stale?.stop().catch(() => undefined);
        const through = this.candidates('').map((p) => p.nodeId); // our own announcements are never listed
        const reason = 'the last (re)join did not complete';
        await this.rejoin(through, reason);
        return { action: 'rejoin', through, reason };
      }
      const now = this.clock.now();
      const alone = member.alone();
      if (!alone) this.aloneSince = undefined;
      else this.aloneSince ??= now;
      const peers = this.candidates(member.nodeId).map((p) => ({ nodeId: p.nodeId, seenForMs: now - p.since }));
      let decision = decideLocalMerge({
        self: member.nodeId,
        alone,
        aloneForMs: alone ? now - (this.aloneSince ?? now) : 0,
        peers,
        outsideForMs: (id) => {
          const since = this.outside.get(id);
          return since === undefined ? undefined : now - since;
        },
        timing: this.timing,
      });
      if (decision.action === 'check') {
        const candidate = decision.candidate;
        const responder = await member.responderFor(candidate).catch((error: Error) => {
          this.log.debug('local overlay: lookup failed', { candidate, error: error.message });
          return undefined;
        });
        if (responder === undefined) return decision; // no answer: ask again next time
        if (responder.toLowerCase() === candidate) {
          this.outside.clear();
          return { action: 'stay' };
        }
        for (const id of this.outside.keys()) if (id !== candidate) this.outside.delete(id);
        if (!this.outside.has(candidate)) {
          this.outside.set(candidate, now);
          this.log.info('local overlay: a smaller peer is outside our ring', { candidate, responder });
        }
        if (now - (this.outside.get(candidate) as number) < this.timing.settleMs) return decision;
        decision = decideLocalMerge({
          self: member.nodeId,
          alone,
          aloneForMs: 0,
          peers,
          outsideForMs: (id) => (id === candidate ? now - (this.outside.get(id) as number) : undefined),
          timing: this.timing,
        });
      }
      if (decision.action !== 'rejoin') return decision;
      if (!alone) {
        // A ring of several moves only to a peer that answers; a dead peer's records can outlive it.
        const target = decision.through[0] as string;
        const addresses = this.known.get(target)?.addresses ?? [];
        let ok = false;
        for (const peer of addresses) if ((ok = await member.reachable(peer).catch(() => false))) break;
        if (!ok) {
          this.hold(target);
          this.outside.delete(target);
          return { action: 'stay' };
        }
      }
      await this.rejoin(decision.through, decision.reason);
      return decision;
    } finally {
      this.busy = false;
    }
  }

  // ---- internals ----

  private found(peer: LocalPeer): void {
    const id = peer.nodeId.toLowerCase();
    const entry = this.known.get(id) ?? { addresses: [], since: this.clock.now() };
    if (!entry.addresses.some((a) => a.host === peer.host && a.port === peer.port && a.transport === peer.transport))
      entry.addresses.push(peer);
    this.known.set(id, entry);
    // A peer that announces anew (e.g. after its own rejoin, on a new port) deserves another try.
    this.failed.delete(id);
    this.windowWatch?.();
    if (this.busy) this.recheck = true;
    else if (this.started && !this.stopped) this.schedule(20);
  }

  private gone(peer: LocalPeer): void {
    const id = peer.nodeId.toLowerCase();
    const entry = this.known.get(id);
    if (!entry) return;
    entry.addresses = entry.addresses.filter(
      (a) => !(a.host === peer.host && a.port === peer.port && a.transport === peer.transport),
    );
    if (entry.addresses.length === 0) {
      this.known.delete(id);
      this.outside.delete(id);
    }
  }

  /** Discovered peers usable now: other Node-IDs, with an address of our transport, not held back. */
  private candidates(self: string): { nodeId: string; since: number; addresses: LocalPeer[] }[] {
    const now = this.clock.now();
    for (const [id, until] of this.failed) if (until <= now) this.failed.delete(id);
    return [...this.known.entries()]
      .filter(([id]) => id !== self.toLowerCase() && !this.failed.has(id))
      .map(([nodeId, k]) => ({
        nodeId,
        since: k.since,
        addresses: k.addresses.filter((a) => a.transport === this.o.transport),
      }))
      .filter((p) => p.addresses.length > 0)
      .sort((a, b) => compareNodeIds(a.nodeId, b.nodeId));
  }

  private hold(nodeId: string): void {
    this.failed.set(nodeId, this.clock.now() + this.timing.failedPeerHoldMs);
  }

  /** Joins `member` through the peers (each in turn), or forms the overlay alone; then announces. */
  private async enter(member: LocalOverlayMember, through: string[]): Promise<void> {
    let joined: string | undefined;
    for (const nodeId of through) {
      if (this.stopped) break;
      const addresses = bootstrapOrder([nodeId], this.known.get(nodeId)?.addresses ?? []);
      if (addresses.length === 0) continue;
      try {
        await member.start({ bootstrapNodes: addresses });
        joined = nodeId;
        break;
      } catch (error) {
        this.counters.failedJoins++;
        this.hold(nodeId);
        this.log.info('local overlay: join failed', { through: nodeId, error: (error as Error).message });
      }
    }
    if (this.stopped) return;
    if (joined === undefined) {
      await member.start({ firstNode: true });
      this.counters.forms++;
      this.log.info('local overlay: formed', { nodeId: member.nodeId });
    } else {
      this.counters.joins++;
      this.log.info('local overlay: joined', { nodeId: member.nodeId, through: joined });
    }
    this.aloneSince = undefined;
    this.outside.clear();
    if (this.stopped) return;
    this.pending = undefined;
    this.current = member;
    await this.o.discovery.announce({
      overlay: this.o.overlay,
      nodeId: member.nodeId,
      port: member.port,
      transport: this.o.transport,
      ...(this.o.host ? { host: this.o.host } : {}),
    });
    this.emit(joined === undefined ? { type: 'formed', member } : { type: 'joined', member, through: joined });
  }

  private async rejoin(through: string[], reason: string): Promise<void> {
    this.counters.rejoins++;
    this.log.info('local overlay: rejoining', { reason, through });
    this.emit({ type: 'rejoining', reason, through });
    const old = this.current;
    this.current = undefined;
    await old?.stop().catch((error: Error) => this.log.warn('local overlay: leaving failed', { error: error.message }));
    if (this.stopped) return;
    const member = (this.pending = await this.o.createMember());
    if (this.stopped) {
      this.pending = undefined;
      await member.stop();
      return;
    }
    await this.enter(member, through);
  }

  private schedule(ms = this.timing.checkIntervalMs): void {
    this.timer?.cancel();
    if (this.stopped) return;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      void this.check()
        .catch((error: Error) => this.log.warn('local overlay: check failed', { error: error.message }))
        .finally(() => {
          if (!this.timer) this.scheduleNext();
        });
    }, ms);
  }

  /** The next regular check, or one at once if a peer appeared while we were busy. */
  private scheduleNext(): void {
    const soon = this.recheck;
    this.recheck = false;
    this.schedule(soon ? 20 : this.timing.checkIntervalMs);
  }

  /** Step 1's wait: joinWindowMs, or foundGraceMs after the first peer found, whichever ends first. */
  private joinWindow(): Promise<void> {
    return new Promise<void>((resolve) => {
      const whole = this.clock.setTimeout(done, this.timing.joinWindowMs);
      let grace: TimerHandle | undefined;
      const ready = () => {
        if (grace || this.known.size === 0) return;
        grace = this.clock.setTimeout(done, this.timing.foundGraceMs);
      };
      this.windowWatch = ready;
      ready();
      function done(): void {
        whole.cancel();
        grace?.cancel();
        resolve();
      }
    }).finally(() => (this.windowWatch = undefined));
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.clock.setTimeout(resolve, ms));
  }

  private emit(event: LocalOverlayEvent): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch (error) {
        this.log.warn('local overlay listener threw', { error });
      }
    }
  }
}

/**
 * A ReloadNode as a local overlay member. `connect` is the node's bootstrap endpoint's connect (with the
 * Node-ID the peer must prove); `close` whatever else the member owns (the endpoint), after the node stopped.
 */
export function reloadNodeMember(o: {
  node: ReloadNode;
  port: number;
  connect: (address: BootstrapAddress, expectedNodeId?: Uint8Array) => Promise<Link>;
  close?: () => Promise<void>;
}): LocalOverlayMember {
  const { node } = o;
  const nodeId = toHex(node.nodeId);
  return {
    nodeId,
    port: o.port,
    start: (how) => node.start(how),
    alone: () => {
      const { predecessors, successors } = node.table.neighbours;
      return node.ready && predecessors.length === 0 && successors.length === 0;
    },
    responderFor: async (resourceId) => {
      const answer = await node.transport.request([{ type: 'resource', id: fromHex(resourceId) }], {
        method: 'ping_req',
        value: { padding: new Uint8Array(0) },
      });
      return toHex(answer.from.nodeIds[0] as Uint8Array);
    },
    reachable: async (peer) => {
      const expected = fromHex(peer.nodeId);
      const link = await o.connect({ host: peer.host, port: peer.port }, expected);
      // A link the node already uses stays; one opened only for this question goes again.
      if (node.transport.linkTo(expected) !== link) await link.close();
      return true;
    },
    stop: async () => {
      await node.stop();
      await o.close?.();
    },
  };
}
