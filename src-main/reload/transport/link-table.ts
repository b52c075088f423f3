/**
 * The connection table's bookkeeping: at most `maxLinks` links (the least recently used one makes room),
 * links idle longer than `idleTimeoutMs` closed, and a status view of every link (peer, type, RTT,
 * counters) for the app and the CLI. Dead links close themselves (the link layers detect it); the table
 * forgets them on close.
 */
import type { Clock, TimerHandle } from '../clock';
import type { Link, LinkStats, LinkType } from '../link/link';
import { toHex } from '../wire';
import type { MessageTransport } from './message-transport';

export interface LinkTableOptions {
  maxLinks: number;
  idleTimeoutMs: number;
  clock: Clock;
}

export interface LinkStatus {
  nodeIds: string[];
  userName: string;
  type: LinkType;
  rttMs: number | undefined;
  idleMs: number;
  stats: LinkStats;
}

const messages = (link: Link) => link.stats.messagesSent + link.stats.messagesReceived;

/** One object the app and the CLI show: transport counters and every link. */
export interface TransportStatus {
  counters: MessageTransport['counters'];
  links: LinkStatus[];
}

export class LinkTable {
  /** Per link: its message count when last seen changing, and since when it has been unchanged. */
  private readonly activity = new Map<Link, { count: number; since: number }>();
  private sweeper: TimerHandle | undefined;

  constructor(
    private readonly transport: MessageTransport,
    private readonly options: LinkTableOptions,
  ) {}

  get size(): number {
    return this.activity.size;
  }

  add(link: Link): void {
    this.refresh();
    while (this.activity.size >= this.options.maxLinks) {
      const [idlest] = [...this.activity.entries()].sort((a, b) => a[1].since - b[1].since)[0] ?? [];
      if (!idlest) break;
      this.activity.delete(idlest);
      void idlest.close();
    }
    this.activity.set(link, { count: messages(link), since: this.options.clock.now() });
    link.onClose(() => this.activity.delete(link));
    this.transport.addLink(link);
    this.schedule();
  }

  status(): LinkStatus[] {
    this.refresh();
    const now = this.options.clock.now();
    return [...this.activity.entries()].map(([link, a]) => ({
      nodeIds: link.peer.nodeIds.map(toHex),
      userName: link.peer.userName,
      type: link.type,
      rttMs: link.rttMs,
      idleMs: now - a.since,
      stats: { ...link.stats },
    }));
  }

  /** A snapshot (copies), safe to serialise. */
  transportStatus(): TransportStatus {
    const c = this.transport.counters;
    return { counters: { ...c, dropped: { ...c.dropped } }, links: this.status() };
  }

  async close(): Promise<void> {
    this.sweeper?.cancel();
    await Promise.all([...this.activity.keys()].map((l) => l.close()));
  }

  /** A link whose message count moved is active as of now. */
  private refresh(): void {
    const now = this.options.clock.now();
    for (const [link, a] of this.activity) {
      const count = messages(link);
      if (count !== a.count) this.activity.set(link, { count, since: now });
    }
  }

  private schedule(): void {
    if (this.sweeper) return;
    this.sweeper = this.options.clock.setTimeout(
      () => {
        this.sweeper = undefined;
        this.refresh();
        const now = this.options.clock.now();
        for (const [link, a] of this.activity) {
          if (now - a.since >= this.options.idleTimeoutMs) {
            this.activity.delete(link);
            void link.close();
          }
        }
        if (this.activity.size > 0) this.schedule();
      },
      Math.max(100, this.options.idleTimeoutMs / 4),
    );
  }
}
