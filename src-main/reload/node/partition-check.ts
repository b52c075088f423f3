/**
 * Partition detection through the bootstrap nodes (RFC 6940 §10.7.4.3). Now and then a peer contacts a
 * bootstrap node B again and pings, routed through B, the first Resource-ID after its own Node-ID. In one
 * consistent ring the answer comes from our first successor. Any other answer S' means B's overlay places
 * someone else there: the overlay split (or two overlays formed side by side, as two peers started at once
 * do), so we Attach to S' through B and send it our Update; the Updates and successor checks that follow
 * join the two rings.
 *
 * The RFC pings our own Node-ID; in a healthy ring that request would come back to us (we are responsible
 * for it), which a loop check may drop. Pinging our Node-ID + 1 asks the same question ("who follows us?")
 * and is answered by a peer in either case (docs/decisions.md, "Partition detection").
 */
import type { Logger } from '../../common/logger';
import type { Clock, TimerHandle } from '../clock';
import type { Link } from '../link/link';
import type { ChordOverlay, ChordRoutingTable } from '../topology';
import { nextId, type BootstrapAddress, type MessageTransport } from '../transport';
import { bytesEqual, toHex } from '../wire';

export type PartitionCheckResult =
  /** The bootstrap node's overlay names our own successor: one ring. */
  | { outcome: 'consistent'; via: BootstrapAddress }
  /** Someone else answered; we attached to it and told it about us. */
  | { outcome: 'partition'; via: BootstrapAddress; peer: string }
  /** Every configured bootstrap node is ourselves, or none is configured. */
  | { outcome: 'no-bootstrap-node' }
  /** No bootstrap node could be reached or answered. */
  | { outcome: 'unreachable'; errors: string[] };

export interface PartitionCheckOptions {
  nodeId: Uint8Array;
  transport: MessageTransport;
  table: ChordRoutingTable;
  chord: ChordOverlay;
  /** The addresses to try (the configuration's bootstrap nodes, or those the node joined through). */
  addresses: () => readonly BootstrapAddress[];
  connect: (address: BootstrapAddress) => Promise<Link>;
  accept: (link: Link) => void;
  clock: Clock;
  log: Logger;
  /** Mean time between checks (randomised ±25 %). */
  intervalMs: number;
  random: () => number;
}

export class PartitionCheck {
  readonly counters = { checks: 0, partitions: 0, unreachable: 0 };
  private timer: TimerHandle | undefined;
  private running = false;

  constructor(private readonly o: PartitionCheckOptions) {}

  start(): void {
    this.stop();
    this.timer = this.o.clock.setTimeout(
      () => void this.check().finally(() => this.timer && this.start()),
      this.o.intervalMs * (0.75 + 0.5 * this.o.random()),
    );
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  /** One check: the first bootstrap node (in random order) that is not us and answers decides. */
  async check(): Promise<PartitionCheckResult> {
    if (this.running || this.o.chord.status !== 'ready') return { outcome: 'unreachable', errors: ['busy'] };
    this.running = true;
    this.counters.checks++;
    const errors: string[] = [];
    let others = 0;
    try {
      for (const address of shuffle([...this.o.addresses()], this.o.random)) {
        const name = `${address.host}:${address.port}`;
        let link: Link | undefined;
        let ours = false;
        try {
          link = await this.o.connect(address);
          const peer = link.peer.nodeIds[0];
          if (!peer || bytesEqual(peer, this.o.nodeId)) {
            if (!link.closed && this.o.transport.linkTo(this.o.nodeId) !== link) await link.close();
            continue;
          }
          others++;
          // A link we already had (a neighbour that is also a bootstrap node) stays as it is.
          ours = this.o.transport.linkTo(peer) !== link;
          if (ours) this.o.accept(link);
          const answer = await this.o.transport.request(
            [{ type: 'resource', id: nextId(this.o.nodeId) }],
            { method: 'ping_req', value: { padding: new Uint8Array(0) } },
            { via: link },
          );
          const responder = answer.from.nodeIds[0] as Uint8Array;
          const successor = this.o.table.neighbours.successors[0];
          const alone = successor === undefined && bytesEqual(responder, this.o.nodeId);
          if (alone || (successor !== undefined && bytesEqual(responder, successor)))
            return { outcome: 'consistent', via: address };
          this.counters.partitions++;
          this.o.log.info('partition detected: the bootstrap node names another successor', {
            via: name,
            peer: toHex(responder),
            successor: successor ? toHex(successor) : null,
          });
          await this.o.chord.learnPeer(responder, link);
          return { outcome: 'partition', via: address, peer: toHex(responder) };
        } catch (error) {
          errors.push(`${name}: ${(error as Error).message}`);
        } finally {
          // A link opened only for the check goes again, unless the bootstrap node is now one of our peers;
          // kept, every peer would hold a link to each bootstrap node.
          const peer = link?.peer.nodeIds[0];
          if (ours && link && !link.closed && peer && !this.o.table.has(peer)) await link.close();
        }
      }
      if (others === 0 && errors.length === 0) return { outcome: 'no-bootstrap-node' };
      this.counters.unreachable++;
      this.o.log.debug('partition check: no bootstrap node answered', { errors });
      return { outcome: 'unreachable', errors };
    } finally {
      this.running = false;
    }
  }
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}
