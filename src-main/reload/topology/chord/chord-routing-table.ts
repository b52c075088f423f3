/**
 * The CHORD-RELOAD Routing Table (RFC 6940 §10.1–§10.3): a Neighbor Table of up to `neighbours`
 * predecessors and successors (closest first, never ourselves) and a Finger Table, and the two answers
 * message transport needs from a topology: are we responsible for an ID, and which peer is the next hop.
 * Pure state; who gets Attached, Updated or pinged, and when, is the Chord maintenance logic's business.
 */
import type { Topology } from '../../transport/topology';
import { type Ring } from './ring';

export interface ChordRoutingTableOptions {
  /** Predecessors and successors kept on each side (RFC 6940: at least 3). */
  neighbours?: number;
  /** Finger Table entries (RFC 6940: SHOULD have 16, able to grow to 128). */
  fingers?: number;
}

export interface NeighbourChange {
  /** Did the predecessor or successor lists change? */
  neighbours: boolean;
  /** Did the range we are responsible for (our first predecessor) change? */
  range: boolean;
}

export class ChordRoutingTable implements Topology {
  readonly self: bigint;
  private predecessors: bigint[] = [];
  private successors: bigint[] = [];
  private readonly fingers = new Map<number, bigint>();
  /** Peers added that no longer fit a Neighbor or Finger slot: still linked, still usable as next hops. */
  private readonly others = new Set<bigint>();
  private neighboursKept: number;
  private fingersKept: number;

  constructor(
    readonly ring: Ring,
    self: Uint8Array,
    options: ChordRoutingTableOptions = {},
  ) {
    this.self = ring.toBig(self);
    this.neighboursKept = options.neighbours ?? 3;
    this.fingersKept = Math.min(options.fingers ?? 16, ring.bits);
  }

  /** Predecessors and successors kept on each side. */
  get neighbourCount(): number {
    return this.neighboursKept;
  }

  /** Finger Table entries kept. */
  get fingerCount(): number {
    return this.fingersKept;
  }

  /**
   * New table sizes (RFC 7363 self-tuning): the Neighbor Table is chosen again from every peer we hold, and
   * fingers beyond the new count are dropped (new ones are filled from the peers we hold).
   */
  resize(sizes: { neighbours?: number; fingers?: number }): NeighbourChange {
    const before = this.snapshot();
    if (sizes.neighbours !== undefined && sizes.neighbours >= 1 && sizes.neighbours !== this.neighboursKept) {
      this.neighboursKept = sizes.neighbours;
      const all = [...this.others];
      this.successors = this.closest(all, (x) => this.ring.distance(this.self, x));
      this.predecessors = this.closest(all, (x) => this.ring.distance(x, this.self));
    }
    const fingers = sizes.fingers === undefined ? undefined : Math.min(Math.max(1, sizes.fingers), this.ring.bits);
    if (fingers !== undefined && fingers !== this.fingersKept) {
      const grew = fingers > this.fingersKept;
      this.fingersKept = fingers;
      for (const i of [...this.fingers.keys()]) if (i > fingers) this.fingers.delete(i);
      if (grew) for (const p of this.others) this.placeFinger(p);
    }
    return this.changeSince(before);
  }

  /** Every peer in the Routing Table (neighbours, fingers and the other linked peers). */
  get members(): bigint[] {
    return [...this.others];
  }

  /** Is this peer one of our fingers? */
  isFinger(id: Uint8Array): boolean {
    const p = this.ring.toBig(id);
    for (const f of this.fingers.values()) if (f === p) return true;
    return false;
  }

  /** Responsible for k iff k lies in (first predecessor, self]; alone, for the whole ring. */
  isResponsible(id: Uint8Array): boolean {
    if (id.length !== this.ring.bytes) return false;
    const predecessor = this.predecessors[0];
    return predecessor === undefined || this.ring.inArc(this.ring.toBig(id), predecessor, this.self);
  }

  /**
   * §10.3: the peer whose Node-ID is k; else the Routing Table peer with the largest Node-ID in (self, k];
   * else the one with the smallest Node-ID greater than k.
   */
  nextHop(id: Uint8Array): Uint8Array | undefined {
    if (id.length !== this.ring.bytes) return undefined;
    const k = this.ring.toBig(id);
    let best: bigint | undefined;
    let bestDistance = -1n;
    let after: bigint | undefined;
    let afterDistance = this.ring.size;
    for (const p of this.peers()) {
      if (p === k) return this.ring.fromBig(p);
      const d = this.ring.distance(this.self, p);
      if (d !== 0n && d <= this.ring.distance(this.self, k)) {
        if (d > bestDistance) [best, bestDistance] = [p, d];
      } else {
        const beyond = this.ring.distance(k, p);
        if (beyond < afterDistance) [after, afterDistance] = [p, beyond];
      }
    }
    const hop = best ?? after;
    return hop === undefined ? undefined : this.ring.fromBig(hop);
  }

  /** Takes a peer we hold a link to into the Neighbor and Finger Tables where it fits. */
  add(id: Uint8Array): NeighbourChange {
    const p = this.ring.toBig(id);
    if (p === this.self) return { neighbours: false, range: false };
    const before = this.snapshot();
    this.others.add(p);
    this.successors = this.closest([...this.successors, p], (x) => this.ring.distance(this.self, x));
    this.predecessors = this.closest([...this.predecessors, p], (x) => this.ring.distance(x, this.self));
    this.placeFinger(p);
    return this.changeSince(before);
  }

  private placeFinger(p: bigint): void {
    for (let i = 1; i <= this.fingerCount; i++) {
      const { start, end } = this.ring.fingerRange(this.self, i);
      const current = this.fingers.get(i);
      // Nearest to the start of the range: the entry routing benefits from most.
      if (
        this.ring.distance(start, p) <= this.ring.distance(start, end) &&
        (current === undefined || this.ring.distance(start, p) < this.ring.distance(start, current))
      )
        this.fingers.set(i, p);
    }
  }

  /** Would this peer enter the Neighbor Table (a free place, or closer than a current neighbour)? */
  wouldImprove(id: Uint8Array): boolean {
    const p = this.ring.toBig(id);
    if (p === this.self || this.successors.includes(p) || this.predecessors.includes(p)) return false;
    const fits = (list: bigint[], distance: (x: bigint) => bigint) =>
      list.length < this.neighbourCount || distance(p) < distance(list[list.length - 1] as bigint);
    return (
      fits(this.successors, (x) => this.ring.distance(this.self, x)) ||
      fits(this.predecessors, (x) => this.ring.distance(x, this.self))
    );
  }

  /** Is this peer in the Routing Table (a neighbour, a finger, or another linked peer)? */
  has(id: Uint8Array): boolean {
    return this.others.has(this.ring.toBig(id));
  }

  /**
   * Forgets a peer (it failed, left, or its link closed); the best of the remaining peers take the places it
   * held (§10.7.2: "replace it with the best Routing Table candidate").
   */
  remove(id: Uint8Array): NeighbourChange {
    const p = this.ring.toBig(id);
    const before = this.snapshot();
    this.others.delete(p);
    const all = [...this.others];
    this.successors = this.closest(all, (x) => this.ring.distance(this.self, x));
    this.predecessors = this.closest(all, (x) => this.ring.distance(x, this.self));
    for (const [i, f] of this.fingers) {
      if (f !== p) continue;
      this.fingers.delete(i);
      const { start, end } = this.ring.fingerRange(this.self, i);
      const span = this.ring.distance(start, end);
      const inRange = all.filter((x) => this.ring.distance(start, x) <= span);
      if (inRange.length > 0)
        this.fingers.set(i, this.closest(inRange, (x) => this.ring.distance(start, x))[0] as bigint);
    }
    return this.changeSince(before);
  }

  get neighbours(): { predecessors: Uint8Array[]; successors: Uint8Array[] } {
    return {
      predecessors: this.predecessors.map((x) => this.ring.fromBig(x)),
      successors: this.successors.map((x) => this.ring.fromBig(x)),
    };
  }

  /** Finger i (1-based) → peer, for the entries we have. */
  get fingerTable(): Map<number, Uint8Array> {
    return new Map([...this.fingers].map(([i, f]) => [i, this.ring.fromBig(f)]));
  }

  /** Finger indexes with nobody in their range yet (candidates for a finger search). */
  get missingFingers(): number[] {
    return Array.from({ length: this.fingerCount }, (_, k) => k + 1).filter((i) => !this.fingers.has(i));
  }

  private peers(): Set<bigint> {
    return this.others;
  }

  private closest(candidates: bigint[], distance: (x: bigint) => bigint): bigint[] {
    return [...new Set(candidates)]
      .sort((a, b) => (distance(a) < distance(b) ? -1 : distance(a) > distance(b) ? 1 : 0))
      .slice(0, this.neighbourCount);
  }

  private snapshot(): string {
    return `${this.predecessors.join(',')}|${this.successors.join(',')}`;
  }

  private changeSince(before: string): NeighbourChange {
    const [pred] = before.split('|');
    return {
      neighbours: before !== this.snapshot(),
      range: (pred?.split(',')[0] ?? '') !== (this.predecessors[0]?.toString() ?? ''),
    };
  }
}
