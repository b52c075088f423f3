/**
 * CHORD-RELOAD's procedures (RFC 6940 §10.5–§10.9) over a ChordRoutingTable: joining through an admitting
 * peer, admitting joiners, Update (sending and the receive rules), Leave, neighbour failure, periodic
 * stabilisation and finger repair, RouteQuery. Storage handover and replication hang off its events.
 *
 * Routing-table membership follows the RFC: a peer enters our table only once it has told us it is a peer
 * (an Update or a Join from it) or a peer we trust named it and our Attach to it succeeded; it leaves when its
 * link closes or it leaves. Until then its link is only a link (§6.5.1).
 */
import type { Logger } from '../../../common/logger';
import type { Clock, TimerHandle } from '../../clock';
import type { Link } from '../../link/link';
import {
  ErrorAnswer,
  type AttachService,
  type IncomingRequest,
  type MessageTransport,
  type RequestRouter,
} from '../../transport';
import {
  bytesEqual,
  encodeWith,
  ErrorCode,
  findSelfTuningData,
  readChordLeaveData,
  Reader,
  selfTuningExtension,
  toHex,
  writeChordLeaveData,
  type Body,
  type ChordLeaveData,
  type ChordUpdate,
  type DecodeContext,
} from '../../wire';
import { serveProbe } from './chord-probe';
import type { ChordRoutingTable, NeighbourChange } from './chord-routing-table';
import { MIN_STABILIZATION_MS, SelfTuningState, type SelfTuningEstimate } from './self-tuning';

export type ChordState = 'idle' | 'joining' | 'ready' | 'left';

export interface ChordOverlayOptions {
  table: ChordRoutingTable;
  transport: MessageTransport;
  router: RequestRouter;
  attach: AttachService;
  clock: Clock;
  log: Logger;
  ctx: DecodeContext;
  /** chord-update-interval: Updates to every neighbour this often, randomised ±25% (default 600 s). */
  updateIntervalMs?: number;
  /** chord-ping-interval: at most one finger search this often (default 3600 s). */
  fingerIntervalMs?: number;
  /**
   * How often the successor is checked through the ring (a Ping to our Node-ID + 1; §10.7.4.3's partition
   * check done through the overlay). Default 60 s: one Ping a minute, well under the traffic budget.
   */
  successorCheckIntervalMs?: number;
  /** chord-reactive: Update the neighbours at once when the Neighbor Table changes (default true). */
  reactive?: boolean;
  /** How long a joining peer waits for the admitting peer's Update before it goes on without (default 5 s). */
  joinUpdateWaitMs?: number;
  /** Source of randomness in [0, 1) (a seeded one in simulations). */
  random?: () => number;
  /**
   * RFC 7363 self-tuning (topology-plugin CHORD-SELF-TUNING): periodic recovery only, neighbour Updates to
   * the first predecessor and successor, estimates shared by Probe with `peersToProbe` random fingers, and
   * the stabilization interval and table sizes computed from them (chord-update-interval is the upper bound
   * and the interval while there is no estimate).
   */
  selfTuning?: { peersToProbe: number; minIntervalMs?: number };
  /** Resources this node stores (Probe's num_resources); default none. */
  storedResources?: () => number;
}

export interface NeighbourEvent {
  predecessors: Uint8Array[];
  successors: Uint8Array[];
  change: NeighbourChange;
}

export class ChordJoinError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ChordJoinError';
  }
}

const hex = (id: Uint8Array) => toHex(id);
/** After a failed successor search, the next one (a dead hop is usually detected by then). */
const REPAIR_RETRY_MS = 5_000;
/** After joining, the successor check through the ring (when the joins around ours have settled). */
const JOIN_CHECK_DELAY_MS = 2_000;
/** After losing a neighbour, the successor check through the ring (failures often come in bursts). */
const FAILURE_CHECK_DELAY_MS = 1_000;
/** How long a join waits for its finger search before sending Join (the search itself goes on). */
const FINGER_SEARCH_BUDGET_MS = 3_000;

export class ChordOverlay {
  private state: ChordState = 'idle';
  private readonly startedAt: number;
  private readonly neighbourListeners = new Set<(event: NeighbourEvent) => void>();
  private readonly joinedListeners = new Set<(joiner: Uint8Array) => Promise<void> | void>();
  private readonly stateListeners = new Set<(state: ChordState) => void>();
  private updateTimer: TimerHandle | undefined;
  private fingerTimer: TimerHandle | undefined;
  private checkTimer: TimerHandle | undefined;
  private checkPending: TimerHandle | undefined;
  private broadcastPending: TimerHandle | undefined;
  /** Peers an Attach is running to, so that several Updates naming one peer start one Attach. */
  private readonly attaching = new Set<string>();
  private updateFromAdmitting: ((update: ChordUpdate) => void) | undefined;
  /** The admitting peer of the join in progress (hex Node-ID). */
  private admitting: string | undefined;
  /** Updates that came before we were ready (the admitting peer's can beat our call to join()), by sender. */
  private readonly early = new Map<string, { sender: Uint8Array; update: ChordUpdate }>();
  private readonly random: () => number;
  private repairing = false;
  private repairAgain: 'check' | 'refill' | undefined;
  /** Peers that told us they are peers (or were vouched for and attached), by Node-ID hex. */
  private readonly known = new Map<string, Uint8Array>();
  private repairRetry: TimerHandle | undefined;
  /** Self-tuning state (RFC 7363), when the overlay uses it. */
  private readonly tuning: SelfTuningState | undefined;
  /** Self-tuning: the neighbours we have greeted with a peer_ready Update, by Node-ID hex. */
  private greeted = new Set<string>();
  /** Self-tuning: peers a Probe is running to. */
  private readonly probing = new Set<string>();
  readonly counters = { updatesSent: 0, updatesReceived: 0, joinsAdmitted: 0, leavesReceived: 0, neighbourFailures: 0 };

  constructor(private readonly o: ChordOverlayOptions) {
    this.startedAt = o.clock.now();
    this.random = o.random ?? Math.random;
    const tuning = o.selfTuning
      ? new SelfTuningState(o.table.ring, {
          peersToProbe: o.selfTuning.peersToProbe,
          maxIntervalMs: o.updateIntervalMs ?? 600_000,
          ...(o.selfTuning.minIntervalMs !== undefined ? { minIntervalMs: o.selfTuning.minIntervalMs } : {}),
        })
      : undefined;
    this.tuning = tuning;
    serveProbe({
      router: o.router,
      table: o.table,
      ctx: o.ctx,
      uptimeSeconds: () => this.uptimeSeconds,
      storedResources: o.storedResources ?? (() => 0),
      ...(tuning
        ? {
            selfTuning: {
              received: (from, data) => {
                if (from.length === o.table.ring.bytes) tuning.recordShared(o.table.ring.toBig(from), data);
              },
              current: () => tuning.data,
            },
          }
        : {}),
    });
    o.router.on('update_req', (r) => this.onUpdate(r));
    o.router.on('join_req', (r) => this.onJoin(r));
    o.router.on('leave_req', (r) => this.onLeave(r));
    o.router.on('route_query_req', (r) => this.onRouteQuery(r));
  }

  get nodeId(): Uint8Array {
    return this.o.table.ring.fromBig(this.o.table.self);
  }

  get status(): ChordState {
    return this.state;
  }

  /** Seconds since this node started (the uptime of Updates and Probe answers). */
  get uptimeSeconds(): number {
    return Math.floor((this.o.clock.now() - this.startedAt) / 1000);
  }

  /** Self-tuning's last estimate (undefined when self-tuning is off or before the first stabilization). */
  get selfTuning(): SelfTuningEstimate | undefined {
    return this.tuning?.current;
  }

  onNeighboursChanged(listener: (event: NeighbourEvent) => void): () => void {
    this.neighbourListeners.add(listener);
    return () => this.neighbourListeners.delete(listener);
  }

  /** As admitting peer, after answering a Join: hand the joiner its data (§10.5 step 6) before our Update. */
  onPeerJoined(listener: (joiner: Uint8Array) => Promise<void> | void): () => void {
    this.joinedListeners.add(listener);
    return () => this.joinedListeners.delete(listener);
  }

  onStateChanged(listener: (state: ChordState) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** A link that closed: the peer behind it is gone from the Routing Table (§10.7.2). */
  linkClosed(link: Link): void {
    let change: NeighbourChange = { neighbours: false, range: false };
    for (const id of link.peer.nodeIds) {
      if (id.length !== this.o.table.ring.bytes) continue;
      if (this.o.transport.linkTo(id)) continue; // another link to the same peer is still up
      this.countFailure(id);
      const c = this.removePeer(id);
      change = { neighbours: change.neighbours || c.neighbours, range: change.range || c.range };
    }
    if (change.neighbours) {
      this.counters.neighbourFailures++;
      this.checkSoon();
    }
    this.changed(change);
  }

  /** The first node: it forms the overlay alone and is responsible for the whole ring (§10.5). */
  startAlone(): void {
    this.setState('ready');
    this.greeted = this.neighbourKeys();
    this.schedule();
  }

  /**
   * Joins through the admitting peer, to which `admitting` is the link the bootstrap Attach (to our Node-ID +
   * 1, with send_update) built (§10.5 steps 2–9).
   */
  async join(admitting: Link): Promise<void> {
    if (this.state === 'ready') return;
    this.setState('joining');
    const ap = admitting.peer.nodeIds[0] as Uint8Array;
    // AP answers send_update with its Routing Table; it may already have arrived.
    const early = this.early.get(hex(ap))?.update;
    this.early.delete(hex(ap));
    this.admitting = hex(ap);
    const update =
      early ??
      (await new Promise<ChordUpdate | undefined>((resolve) => {
        const timer = this.o.clock.setTimeout(() => {
          this.updateFromAdmitting = undefined;
          resolve(undefined);
        }, this.o.joinUpdateWaitMs ?? 5_000);
        this.updateFromAdmitting = (u) => {
          timer.cancel();
          this.updateFromAdmitting = undefined;
          resolve(u);
        };
      }));
    this.addPeer(ap);
    // Step 2: Attach to the neighbours AP reported (source-routed through AP), then the fingers.
    if (update && update.type !== 'peer_ready')
      await this.attachToCloser([...update.predecessors, ...update.successors], ap);
    // Fingers are wanted before the Join (a SHOULD), but a finger Ping that times out (a hop that died
    // unnoticed) must not hold the join up for its 15 s of retransmissions: the search goes on in the
    // background after FINGER_SEARCH_BUDGET_MS.
    await new Promise<void>((resolve) => {
      const timer = this.o.clock.setTimeout(resolve, FINGER_SEARCH_BUDGET_MS);
      void this.searchFingers(this.o.table.fingerCount).finally(() => {
        timer.cancel();
        resolve();
      });
    });
    // Step 5: Join. AP answers, stores our data to us, and sends an Update naming us its predecessor.
    try {
      await this.o.transport.request([{ type: 'node', id: ap }], {
        method: 'join_req',
        value: { joiningPeerId: this.nodeId, overlaySpecificData: new Uint8Array(0) },
      });
    } catch (error) {
      this.setState('idle');
      throw new ChordJoinError(`the admitting peer ${hex(ap)} refused the Join: ${(error as Error).message}`, {
        cause: error,
      });
    }
    this.setState('ready');
    // Updates that reached us while we joined (peers that joined beside us) count now.
    const pending = [...this.early.values()];
    this.early.clear();
    for (const { sender, update } of pending) this.applyUpdate(sender, update);
    // Step 9: tell every neighbour (and every other peer in the Routing Table) that we are here.
    await this.sendUpdates(this.routingPeers());
    this.greeted = this.neighbourKeys();
    this.schedule();
    // Joins that overlapped ours may have given us a stale picture: check our successor once via the ring.
    this.o.clock.setTimeout(() => void this.repairSuccessors(true), JOIN_CHECK_DELAY_MS);
  }

  /** Leave (§10.9): tell each neighbour, then stop. The links are the caller's to close. */
  async leave(): Promise<void> {
    if (this.state === 'left') return;
    const wasReady = this.state === 'ready';
    this.setState('left');
    this.stop();
    if (!wasReady) return;
    const { predecessors, successors } = this.o.table.neighbours;
    const send = (to: Uint8Array, data: ChordLeaveData) =>
      this.o.transport
        .request([{ type: 'node', id: to }], {
          method: 'leave_req',
          value: {
            leavingPeerId: this.nodeId,
            overlaySpecificData: encodeWith(
              (w, v: ChordLeaveData) => writeChordLeaveData(w, v, this.o.ctx.nodeIdLength),
              data,
            ),
          },
        })
        .catch(() => undefined);
    await Promise.all([
      ...successors.map((s) => send(s, { type: 'from_pred', predecessors })),
      ...predecessors
        .filter((p) => !successors.some((s) => bytesEqual(s, p)))
        .map((p) => send(p, { type: 'from_succ', successors })),
    ]);
  }

  stop(): void {
    this.updateTimer?.cancel();
    this.fingerTimer?.cancel();
    this.broadcastPending?.cancel();
    this.repairRetry?.cancel();
    this.checkTimer?.cancel();
    this.checkPending?.cancel();
    this.checkTimer = this.checkPending = undefined;
    this.updateTimer = this.fingerTimer = this.broadcastPending = this.repairRetry = undefined;
  }

  /** Our Update: the neighbours (or the full table for whoever asked with send_update). */
  update(kind: 'neighbors' | 'full' | 'peer_ready' = 'neighbors'): ChordUpdate {
    const uptime = this.uptimeSeconds;
    if (kind === 'peer_ready') return { uptime, type: 'peer_ready' };
    const { predecessors, successors } = this.o.table.neighbours;
    if (kind === 'neighbors') return { uptime, type: 'neighbors', predecessors, successors };
    const fingers = [...this.o.table.fingerTable.values()].sort((a, b) => Buffer.compare(a, b));
    return { uptime, type: 'full', predecessors, successors, fingers };
  }

  /** An Attach we answered asked for an Update (send_update): the whole table, once the link is up. */
  sendUpdateTo(peer: Uint8Array): void {
    void this.sendUpdates([peer], 'full');
  }

  /**
   * A peer found outside the ring's own maintenance — partition detection through a bootstrap node
   * (§10.7.4.3): Attach to it over `via` unless already linked, take it in, and send it our Update so that it
   * learns of us; then check our successors through the (now joined) ring.
   */
  async learnPeer(id: Uint8Array, via?: Link): Promise<void> {
    if (this.state !== 'ready' || bytesEqual(id, this.nodeId)) return;
    if (!this.o.transport.linkTo(id)) await this.o.attach.attach({ type: 'node', id }, via ? { via } : {});
    const change = this.addPeer(id);
    await this.sendUpdates([id], 'full');
    this.changed(change, [id]);
    this.checkSoon();
  }

  // ---- handlers ----

  private async onUpdate(request: IncomingRequest): Promise<Body> {
    if (request.body.method !== 'update_req') throw new ErrorAnswer(ErrorCode.Invalid_Message, 'not an Update');
    const sender = request.from.nodeIds[0] as Uint8Array;
    const update = request.body.value;
    this.counters.updatesReceived++;
    if (this.tuning && sender.length === this.o.table.ring.bytes)
      this.tuning.recordUptime(this.o.table.ring.toBig(sender), update.uptime, this.o.clock.now());
    if (this.updateFromAdmitting && this.state === 'joining' && hex(sender) === this.admitting) {
      this.updateFromAdmitting(update);
      return { method: 'update_ans', value: {} };
    }
    if (this.state !== 'ready') {
      if (this.early.size < 64) this.early.set(hex(sender), { sender, update });
      return { method: 'update_ans', value: {} };
    }
    this.applyUpdate(sender, update);
    return { method: 'update_ans', value: {} };
  }

  /** §10.7.3: the sender is a peer (route through it); the peers it names that are closer get Attached. */
  private applyUpdate(sender: Uint8Array, update: ChordUpdate): void {
    if (this.o.transport.linkTo(sender)) this.changed(this.addPeer(sender));
    if (update.type !== 'peer_ready') {
      const named = [...update.predecessors, ...update.successors, ...(update.type === 'full' ? update.fingers : [])];
      void this.attachToCloser(named, sender);
      this.correctSender(sender, update);
    }
  }

  /**
   * The sender names us as its first successor (or predecessor) while we know a peer between it and us: it
   * has a wrong place on the ring, so it hears our neighbours at once (Chord's stabilize). Reactive Updates
   * would tell it anyway; with self-tuning's periodic recovery only first neighbours hear from us, and a peer
   * placed wrongly by simultaneous joins stayed on a loop of its own that no Ping through the ring could see.
   */
  private correctSender(sender: Uint8Array, update: Exclude<ChordUpdate, { type: 'peer_ready' }>): void {
    const { ring, self } = this.o.table;
    const { predecessors, successors } = this.o.table.neighbours;
    const s = ring.toBig(sender);
    const between = (x: Uint8Array | undefined, from: bigint, to: bigint) =>
      x !== undefined &&
      !bytesEqual(x, sender) &&
      ring.distance(from, ring.toBig(x)) < ring.distance(from, to) &&
      ring.toBig(x) !== from;
    const namesUsFirst = (list: Uint8Array[]) => list[0] !== undefined && bytesEqual(list[0], this.nodeId);
    const wrong =
      (namesUsFirst(update.successors) && between(predecessors[0], s, self)) ||
      (namesUsFirst(update.predecessors) && between(successors[0], self, s));
    if (wrong) void this.sendUpdates([sender]);
  }

  private async onJoin(request: IncomingRequest): Promise<Body> {
    if (request.body.method !== 'join_req') throw new ErrorAnswer(ErrorCode.Invalid_Message, 'not a Join');
    const joiner = request.body.value.joiningPeerId;
    if (!request.from.nodeIds.some((id) => bytesEqual(id, joiner)))
      throw new ErrorAnswer(ErrorCode.Forbidden, 'joining_peer_id is not the Node-ID that signed the Join');
    if (!request.link.peer.nodeIds.some((id) => bytesEqual(id, joiner)))
      throw new ErrorAnswer(ErrorCode.Forbidden, 'a Join must come over a link to the joining peer');
    if (this.state !== 'ready') throw new ErrorAnswer(ErrorCode.Forbidden, 'this peer is not part of the overlay yet');
    this.counters.joinsAdmitted++;
    // After the answer: data first (step 6), then the joiner enters our table and hears about it (7, 8).
    this.o.clock.setTimeout(() => void this.admit(joiner), 0);
    return { method: 'join_ans', value: { overlaySpecificData: new Uint8Array(0) } };
  }

  private async admit(joiner: Uint8Array): Promise<void> {
    for (const listener of [...this.joinedListeners]) {
      try {
        await listener(joiner);
      } catch (error) {
        this.o.log.warn('handing data to a joining peer failed', {
          joiner: hex(joiner),
          error: (error as Error).message,
        });
      }
    }
    if (!this.o.transport.linkTo(joiner)) return;
    const change = this.addPeer(joiner);
    await this.sendUpdates([joiner]);
    this.changed(change, [joiner]);
  }

  private async onLeave(request: IncomingRequest): Promise<Body> {
    if (request.body.method !== 'leave_req') throw new ErrorAnswer(ErrorCode.Invalid_Message, 'not a Leave');
    const leaver = request.body.value.leavingPeerId;
    if (!request.from.nodeIds.some((id) => bytesEqual(id, leaver)))
      throw new ErrorAnswer(ErrorCode.Forbidden, 'leaving_peer_id is not the Node-ID that signed the Leave');
    if (!request.link.peer.nodeIds.some((id) => bytesEqual(id, leaver)))
      throw new ErrorAnswer(ErrorCode.Forbidden, 'a Leave must come over a link to the leaving peer');
    this.counters.leavesReceived++;
    this.countFailure(leaver);
    let named: Uint8Array[] = [];
    const data = request.body.value.overlaySpecificData;
    if (data.length > 0) {
      try {
        const r = new Reader(data, this.o.ctx);
        const leave = readChordLeaveData(r);
        r.done('ChordLeaveData');
        named = leave.type === 'from_pred' ? leave.predecessors : leave.successors;
      } catch {
        named = []; // the Leave still counts; only its hints are unusable
      }
    }
    const change = this.removePeer(leaver);
    if (change.neighbours) this.checkSoon();
    this.changed(change);
    // Treated as a failure (§10.9): the leaver's neighbours are the candidates to replace it.
    this.o.clock.setTimeout(() => void this.attachToCloser(named, undefined), 0);
    return { method: 'leave_ans', value: {} };
  }

  private onRouteQuery(request: IncomingRequest): Body {
    if (request.body.method !== 'route_query_req') throw new ErrorAnswer(ErrorCode.Invalid_Message, 'not a RouteQuery');
    const destination = request.body.value.destination;
    const id = destination.type === 'node' || destination.type === 'resource' ? destination.id : undefined;
    const next = id ? this.o.table.nextHop(id) : undefined;
    if (request.body.value.sendUpdate) {
      const asker = request.from.nodeIds[0] as Uint8Array;
      this.o.clock.setTimeout(() => void this.sendUpdates([asker], 'full'), 0);
    }
    return { method: 'route_query_ans', value: { nextPeer: next ?? this.nodeId } };
  }

  // ---- maintenance ----

  /**
   * Attaches to each named peer that would enter our Neighbor Table (closer than a current neighbour, or
   * filling a free place), source-routed through `through` when given; each success enters the table.
   */
  private async attachToCloser(named: Uint8Array[], through: Uint8Array | undefined): Promise<void> {
    const self = this.nodeId;
    const wanted = named.filter(
      (id) => id.length === this.o.table.ring.bytes && !bytesEqual(id, self) && this.o.table.wouldImprove(id),
    );
    await Promise.all(
      wanted.map(async (id) => {
        const key = hex(id);
        if (this.attaching.has(key)) return;
        const linked = this.o.transport.linkTo(id);
        if (linked) {
          this.changed(this.addPeer(id));
          return;
        }
        this.attaching.add(key);
        try {
          const route = through && !bytesEqual(through, id) ? { through: [through] } : {};
          await this.o.attach.attach({ type: 'node', id }, route);
          if (this.o.transport.linkTo(id)) this.changed(this.addPeer(id));
        } catch (error) {
          this.o.log.debug('attach to a named peer failed', { peer: key, error: (error as Error).message });
        } finally {
          this.attaching.delete(key);
        }
      }),
    );
  }

  /**
   * Finger search (§10.7.4.2): Ping a random Resource-ID inside a missing finger's range; whoever answers is
   * the peer responsible for it, and becomes the finger if it lies in the range.
   */
  private async searchFingers(limit: number): Promise<void> {
    const table = this.o.table;
    // Fingers whose whole range lies before our last successor add nothing: the successors cover it.
    const last = table.neighbours.successors.at(-1);
    const covered = (end: bigint) =>
      last !== undefined &&
      table.ring.distance(table.self, end) < table.ring.distance(table.self, table.ring.toBig(last));
    const missing = table.missingFingers
      .filter((i) => !covered(table.ring.fingerRange(table.self, i).end))
      .slice(0, limit);
    for (const i of missing) {
      const { start, end } = table.ring.fingerRange(table.self, i);
      const span = table.ring.distance(start, end) + 1n;
      const target = table.ring.fromBig(table.ring.add(start, table.ring.randomBelow(span, this.random)));
      try {
        const answer = await this.o.transport.request([{ type: 'resource', id: target }], {
          method: 'ping_req',
          value: { padding: new Uint8Array(0) },
        });
        const peer = answer.from.nodeIds[0] as Uint8Array;
        if (bytesEqual(peer, this.nodeId)) continue;
        if (!this.o.transport.linkTo(peer)) await this.o.attach.attach({ type: 'node', id: peer });
        this.changed(this.addPeer(peer));
      } catch (error) {
        this.o.log.debug('finger search failed', { finger: i, error: (error as Error).message });
      }
    }
  }

  /**
   * Refills a short successor list (§10.7.2: after failures, find peers with Pings): Ping the Resource-ID
   * just after the last successor we know (or after ourselves); whoever answers is responsible for it, so it
   * is the next live peer on the ring. Attach to it and take it in; repeat until the list is full or the
   * ring has no one else.
   */
  private async repairSuccessors(checkFirst = false): Promise<void> {
    if (this.state !== 'ready') return;
    if (this.repairing) {
      // Asked while a search runs: run once more when it is done, so no request is lost.
      this.repairAgain = this.repairAgain || checkFirst ? 'check' : 'refill';
      return;
    }
    this.repairing = true;
    const table = this.o.table;
    try {
      // The ring's answer for our Node-ID + 1 is our true successor: if it is not the one we hold, we were
      // placed wrongly (concurrent joins) or a partition healed (§10.7.4.3, here through the overlay itself).
      // A check walks the whole list: the answer for (successor i) + 1 must be successor i + 1, or a closer
      // peer we missed (an Attach that failed while the ring was busy) takes its place.
      if (checkFirst)
        for (let i = 0; i < table.neighbourCount; i++) {
          const previous = i === 0 ? table.self : table.neighbours.successors[i - 1];
          if (previous === undefined) break;
          await this.searchSuccessor(typeof previous === 'bigint' ? previous : table.ring.toBig(previous));
        }
      for (let round = 0; round < table.neighbourCount + 2; round++) {
        const { successors } = table.neighbours;
        if (successors.length >= table.neighbourCount) return;
        const last = successors.at(-1);
        if (!(await this.searchSuccessor(last ? table.ring.toBig(last) : table.self))) return;
      }
    } catch (error) {
      // The search went through a peer whose death we have not noticed yet: try again once links settle.
      this.o.log.debug('successor repair failed', { error: (error as Error).message });
      this.repairRetry ??= this.o.clock.setTimeout(() => {
        this.repairRetry = undefined;
        void this.repairSuccessors(checkFirst);
      }, REPAIR_RETRY_MS);
    } finally {
      this.repairing = false;
      const again = this.repairAgain;
      this.repairAgain = undefined;
      if (again) void this.repairSuccessors(again === 'check');
    }
  }

  /**
   * Pings the Resource-ID just after `after`: the peer that answers is responsible for it, so it is the next
   * live peer on the ring after `after`. Attaches to it and takes it in; true if our neighbours changed.
   */
  private async searchSuccessor(after: bigint): Promise<boolean> {
    const table = this.o.table;
    const target = table.ring.fromBig(table.ring.add(after, 1n));
    const answer = await this.o.transport.request([{ type: 'resource', id: target }], {
      method: 'ping_req',
      value: { padding: new Uint8Array(0) },
    });
    const peer = answer.from.nodeIds[0] as Uint8Array;
    if (bytesEqual(peer, this.nodeId) || table.neighbours.successors.some((s) => bytesEqual(s, peer))) return false;
    if (!this.o.transport.linkTo(peer)) await this.o.attach.attach({ type: 'node', id: peer });
    const change = this.addPeer(peer);
    if (change.neighbours) {
      // Tell it at once: it learns of us as a predecessor, and its Updates spread the news.
      await this.sendUpdates([peer]);
      this.changed(change, [peer]);
    }
    return change.neighbours;
  }

  /**
   * A neighbour is gone: the replacement taken from our own table may not be the true next peer, so the
   * successors are checked through the ring shortly (a burst of failures gives one check).
   */
  private checkSoon(): void {
    if (this.state !== 'ready' || this.checkPending) return;
    this.checkPending = this.o.clock.setTimeout(() => {
      this.checkPending = undefined;
      void this.repairSuccessors(true);
    }, FAILURE_CHECK_DELAY_MS);
  }

  /** Takes a confirmed peer into the Routing Table and remembers it, linked, as a later replacement. */
  private addPeer(id: Uint8Array): NeighbourChange {
    if (!bytesEqual(id, this.nodeId)) this.known.set(hex(id), id);
    const change = this.o.table.add(id);
    // Self-tuning: a new finger is asked its uptime (RFC 7363 §6.2.3), for the join-rate estimate.
    if (
      this.tuning &&
      this.state === 'ready' &&
      !this.tuning.hasUptime(this.o.table.ring.toBig(id)) &&
      this.o.table.isFinger(id)
    )
      void this.probe(id, false);
    return change;
  }

  /** Self-tuning: a Routing Table peer failed or left (counted once: it is gone from the table after). */
  private countFailure(id: Uint8Array): void {
    if (!this.tuning || this.state !== 'ready' || id.length !== this.o.table.ring.bytes) return;
    if (this.o.table.has(id)) this.tuning.recordFailure(this.o.clock.now());
  }

  private neighbourKeys(): Set<string> {
    const { predecessors, successors } = this.o.table.neighbours;
    return new Set([...predecessors, ...successors].map(hex));
  }

  /**
   * Self-tuning: a Probe for the peer's uptime; with `share`, our SelfTuningData goes along (extension
   * 0x0003) and the peer's comes back in the answer.
   */
  private async probe(id: Uint8Array, share: boolean): Promise<void> {
    const tuning = this.tuning;
    const key = hex(id);
    if (!tuning || this.probing.has(key)) return;
    this.probing.add(key);
    try {
      const answer = await this.o.transport.request(
        [{ type: 'node', id }],
        { method: 'probe_req', value: { requestedInfo: [3] } },
        share ? { extensions: [selfTuningExtension(tuning.data)] } : {},
      );
      const peer = this.o.table.ring.toBig(id);
      if (answer.body.method === 'probe_ans')
        for (const info of answer.body.value.probeInfo)
          if (info.type === 'uptime') tuning.recordUptime(peer, info.value, this.o.clock.now());
      if (share) {
        const data = findSelfTuningData(answer.message.contents.extensions, this.o.ctx);
        if (data) tuning.recordShared(peer, data);
      }
    } catch (error) {
      this.o.log.debug('probe failed', { peer: key, error: (error as Error).message });
    } finally {
      this.probing.delete(key);
    }
  }

  /**
   * Self-tuning stabilization (RFC 7363): estimate, resize the tables, Update the first predecessor and the
   * first successor only, and share the estimates with `peersToProbe` random fingers.
   */
  private stabilizeTuned(tuning: SelfTuningState): void {
    const table = this.o.table;
    const ring = table.ring;
    const { predecessors, successors } = table.neighbours;
    const estimate = tuning.estimate({
      self: table.self,
      predecessors: predecessors.map((p) => ring.toBig(p)),
      successors: successors.map((p) => ring.toBig(p)),
      peers: table.members,
      nowMs: this.o.clock.now(),
    });
    const grew = estimate.neighbours > table.neighbourCount;
    this.changed(table.resize({ neighbours: estimate.neighbours, fingers: estimate.fingers }));
    // Longer lists took their new entries from the peers we hold: check them through the ring.
    if (grew) this.checkSoon();
    const now = table.neighbours;
    const first = new Map<string, Uint8Array>();
    for (const id of [now.predecessors[0], now.successors[0]]) if (id) first.set(hex(id), id);
    void this.sendUpdates([...first.values()]);
    const fingers = new Map<string, Uint8Array>();
    for (const id of table.fingerTable.values()) fingers.set(hex(id), id);
    const pool = [...fingers.values()];
    for (let i = pool.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      [pool[i], pool[j]] = [pool[j] as Uint8Array, pool[i] as Uint8Array];
    }
    for (const id of pool.slice(0, tuning.options.peersToProbe)) void this.probe(id, true);
  }

  /**
   * Forgets a peer; the table keeps only the closest few, so the peers we still hold links to and already
   * know to be peers are offered again: one of them may now be the best replacement (§10.7.2).
   */
  private removePeer(id: Uint8Array): NeighbourChange {
    this.known.delete(hex(id));
    const change = this.o.table.remove(id);
    for (const [key, peer] of this.known) {
      if (!this.o.transport.linkTo(peer)) {
        this.known.delete(key);
        continue;
      }
      const c = this.o.table.add(peer);
      change.neighbours ||= c.neighbours;
      change.range ||= c.range;
    }
    return change;
  }

  private routingPeers(): Uint8Array[] {
    const { predecessors, successors } = this.o.table.neighbours;
    const all = new Map<string, Uint8Array>();
    for (const id of [...predecessors, ...successors, ...this.o.table.fingerTable.values()]) all.set(hex(id), id);
    return [...all.values()];
  }

  private async sendUpdates(
    peers: Uint8Array[],
    kind: 'neighbors' | 'full' | 'peer_ready' = 'neighbors',
  ): Promise<void> {
    const body = this.update(kind);
    await Promise.all(
      peers.map((id) => {
        this.counters.updatesSent++;
        return this.o.transport
          .request([{ type: 'node', id }], { method: 'update_req', value: body })
          .catch((error: Error) => this.o.log.debug('update failed', { peer: hex(id), error: error.message }));
      }),
    );
  }

  /** Reacts to a Routing Table change: events, and (reactive) Updates to every neighbour, coalesced. */
  private changed(change: NeighbourChange, alreadyTold: Uint8Array[] = []): void {
    if (!change.neighbours && !change.range) return;
    const { predecessors, successors } = this.o.table.neighbours;
    for (const listener of [...this.neighbourListeners]) listener({ predecessors, successors, change });
    if (this.state !== 'ready') return;
    if (this.o.table.neighbours.successors.length < this.o.table.neighbourCount)
      this.o.clock.setTimeout(() => void this.repairSuccessors(), 0);
    if (this.tuning && !change.range) {
      // Self-tuning recovers periodically (RFC 7363): a Neighbor Table change is not broadcast; each new
      // neighbour gets a peer_ready Update. A change of our range still goes to the whole table (below).
      const skip = new Set(alreadyTold.map(hex));
      const fresh = [...predecessors, ...successors].filter((id) => !this.greeted.has(hex(id)) && !skip.has(hex(id)));
      this.greeted = this.neighbourKeys();
      const unique = new Map(fresh.map((id) => [hex(id), id]));
      if (unique.size > 0) void this.sendUpdates([...unique.values()], 'peer_ready');
      return;
    }
    if (this.tuning) this.greeted = this.neighbourKeys();
    // Reactive recovery, or (always) a change of the range we are responsible for (§10.7.3, §6.4: the whole
    // table hears of it; for the admitting peer this is §10.5 step 8).
    if ((!this.tuning && this.o.reactive === false) || this.broadcastPending) return;
    this.broadcastPending = this.o.clock.setTimeout(() => {
      this.broadcastPending = undefined;
      const skip = new Set(alreadyTold.map(hex));
      void this.sendUpdates(this.routingPeers().filter((id) => !skip.has(hex(id))));
    }, 0);
  }

  private schedule(): void {
    const every = this.o.updateIntervalMs ?? 600_000;
    const tuning = this.tuning;
    // Self-tuning: the first stabilization after the lower bound (estimates early), then the computed interval.
    const floor = tuning ? Math.min(tuning.options.minIntervalMs ?? MIN_STABILIZATION_MS, every) : 0;
    const tick = () => {
      const interval = tuning ? (tuning.current?.intervalMs ?? floor) : every;
      this.updateTimer = this.o.clock.setTimeout(
        () => {
          if (this.state !== 'ready') return;
          if (tuning) this.stabilizeTuned(tuning);
          else void this.sendUpdates(this.routingPeers());
          tick();
        },
        Math.max(floor, interval * (0.75 + 0.5 * this.random())),
      );
    };
    tick();
    const check = () => {
      this.checkTimer = this.o.clock.setTimeout(
        () => {
          if (this.state !== 'ready') return;
          void this.repairSuccessors(true);
          check();
        },
        (this.o.successorCheckIntervalMs ?? 60_000) * (0.75 + 0.5 * this.random()),
      );
    };
    check();
    const fingers = () => {
      this.fingerTimer = this.o.clock.setTimeout(
        () => {
          if (this.state !== 'ready') return;
          void this.searchFingers(1);
          fingers();
        },
        (this.o.fingerIntervalMs ?? 3_600_000) * (0.75 + 0.5 * this.random()),
      );
    };
    fingers();
  }

  private setState(state: ChordState): void {
    if (this.state === state) return;
    this.state = state;
    for (const listener of [...this.stateListeners]) listener(state);
  }
}
