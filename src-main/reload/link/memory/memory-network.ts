/**
 * An in-memory network driven by a Clock (usually virtual): links between endpoints with configurable
 * latency, jitter, loss, reordering and bandwidth, deterministic for a given seed. Peers are identified by
 * the certificates they registered with, as on real links. For tests and thousand-node simulations.
 */
import type { Clock } from '../../clock';
import { seededRandom } from '../../seeded-random';
import { bytesEqual } from '../../wire';
import type { ValidatedIdentity } from '../../identity';
import { LinkBase } from '../link-base';
import { LinkConnectError, PeerRejectedError, type Link, type LinkEndpoint } from '../link';

export interface LinkConditions {
  latencyMs: number;
  /** Extra random delay 0..jitterMs per message; with jitter, messages may overtake each other. */
  jitterMs: number;
  /** Probability (0..1) that a message is dropped. */
  loss: number;
  /** Bytes per second each direction can carry; 0 = unlimited. */
  bandwidth: number;
}

export const PERFECT: LinkConditions = { latencyMs: 0, jitterMs: 0, loss: 0, bandwidth: 0 };

export class MemoryNetwork {
  private readonly endpoints = new Map<string, MemoryEndpoint>();
  readonly rand: () => number;

  constructor(
    readonly clock: Clock,
    readonly conditions: LinkConditions = PERFECT,
    seed = 1,
    readonly maxMessageSize = 5000,
  ) {
    this.rand = seededRandom(seed);
  }

  endpoint(address: string, identity: ValidatedIdentity): MemoryEndpoint {
    if (this.endpoints.has(address)) throw new LinkConnectError(`address ${address} is taken`);
    const endpoint = new MemoryEndpoint(this, address, identity);
    this.endpoints.set(address, endpoint);
    return endpoint;
  }

  /** @internal */
  lookup(address: string): MemoryEndpoint | undefined {
    return this.endpoints.get(address);
  }

  /** @internal */
  remove(address: string): void {
    this.endpoints.delete(address);
  }
}

export class MemoryEndpoint implements LinkEndpoint {
  readonly type = 'MEMORY' as const;
  private readonly listeners = new Set<(link: Link) => void>();
  private readonly links = new Set<MemoryLink>();
  private open = true;

  constructor(
    private readonly network: MemoryNetwork,
    readonly address: string,
    readonly identity: ValidatedIdentity,
  ) {}

  onLink(listener: (link: Link) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async connect(address: unknown, expectedNodeId?: Uint8Array): Promise<Link> {
    const remote = typeof address === 'string' ? this.network.lookup(address) : undefined;
    if (!this.open || !remote || !remote.open) throw new LinkConnectError(`nothing listens at ${String(address)}`);
    if (expectedNodeId && !remote.identity.nodeIds.some((id) => bytesEqual(id, expectedNodeId))) {
      throw new PeerRejectedError('the peer at that address does not carry the expected Node-ID');
    }
    const a = new MemoryLink(this.network, remote.identity);
    const b = new MemoryLink(this.network, this.identity);
    a.remote = b;
    b.remote = a;
    this.links.add(a);
    remote.links.add(b);
    for (const listener of [...remote.listeners]) listener(b);
    return a;
  }

  /**
   * Takes the address off the network (no new connections, in or out) but keeps the links made so far: a
   * listener for one connection (an AppAttach flow) stops listening once it has it.
   */
  stopListening(): void {
    this.open = false;
    if (this.network.lookup(this.address) === this) this.network.remove(this.address);
  }

  async close(): Promise<void> {
    this.open = false;
    if (this.network.lookup(this.address) === this) this.network.remove(this.address);
    await Promise.all([...this.links].map((l) => l.close()));
  }
}

export class MemoryLink extends LinkBase {
  remote: MemoryLink | undefined;
  private busyUntil = 0;
  private lastArrival = 0;

  constructor(
    private readonly network: MemoryNetwork,
    peer: ValidatedIdentity,
  ) {
    super('MEMORY', peer, network.maxMessageSize);
  }

  get rttMs(): number {
    return 2 * this.network.conditions.latencyMs;
  }

  protected async transmit(message: Uint8Array): Promise<void> {
    const c = this.network.conditions;
    const clock = this.network.clock;
    if (c.loss > 0 && this.network.rand() < c.loss) return;
    const start = Math.max(clock.now(), this.busyUntil);
    const serialization = c.bandwidth > 0 ? (message.length * 1000) / c.bandwidth : 0;
    this.busyUntil = start + serialization;
    let arrival = this.busyUntil + c.latencyMs + (c.jitterMs > 0 ? this.network.rand() * c.jitterMs : 0);
    if (c.jitterMs === 0) arrival = Math.max(arrival, this.lastArrival); // FIFO unless reordering is wanted
    this.lastArrival = arrival;
    const copy = message.slice();
    const target = this.remote;
    clock.setTimeout(() => target?.arrive(copy), arrival - clock.now());
  }

  /**
   * transmit() settles at once, so the backlog is what the limited bandwidth has not yet serialised at the
   * clock's current time. transmit() books each message into busyUntil before it settles, so the base
   * count (sends not yet settled) is a subset of that, not an addition to it: take the larger.
   */
  protected override backlogBytes(): number {
    const bandwidth = this.network.conditions.bandwidth;
    const remainingMs = Math.max(0, this.busyUntil - this.network.clock.now());
    // (the epsilon keeps floating-point noise from rounding up to a phantom byte)
    const serialising = bandwidth > 0 ? Math.max(0, Math.ceil((remainingMs * bandwidth) / 1000 - 1e-6)) : 0;
    return Math.max(serialising, super.backlogBytes());
  }

  /** @internal */
  arrive(message: Uint8Array): void {
    this.deliver(message);
  }

  protected async shutdown(): Promise<void> {
    const remote = this.remote;
    const delay = this.network.conditions.latencyMs;
    this.network.clock.setTimeout(() => remote?.remoteClosed(), delay);
  }

  /** @internal */
  remoteClosed(): void {
    this.markClosed('remote');
  }
}
