/**
 * The local overlay's join and merge decisions: the pure rule (decideLocalMerge), and LocalOverlay driving it
 * over a fake LAN (announcements, rings as sets of members) on a virtual clock: simultaneous starts, a late
 * joiner, two rings of several that meet, dead peers whose records outlive them.
 */
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../../../src-main/reload/clock';
import { LOCAL_OVERLAY_NAME, localOverlayConfiguration, isLocalOverlay } from '../../../../../src-main/reload/config';
import {
  bootstrapOrder,
  compareNodeIds,
  decideLocalMerge,
  LocalDiscoveryArgumentError,
  LocalOverlay,
  type LocalAnnouncement,
  type LocalDiscovery,
  type LocalOverlayEvent,
  type LocalOverlayMember,
  type LocalPeer,
} from '../../../../../src-main/reload/discovery';

const id = (n: number) => n.toString(16).padStart(32, '0');
const timing = { aloneGraceMs: 5000, settleMs: 15_000 };

describe('the embedded local overlay configuration', () => {
  it('is self-signed, ICE, serverless, with the standard kinds', () => {
    const c = localOverlayConfiguration();
    expect(c.instanceName).toBe(LOCAL_OVERLAY_NAME);
    expect(LOCAL_OVERLAY_NAME.endsWith('.invalid')).toBe(true);
    expect(c.selfSignedPermitted).toBe(true);
    expect(c.selfSignedDigest).toBe('sha256');
    expect(c.noIce).toBe(false);
    expect(c.rootCerts).toEqual([]);
    expect(c.enrollmentServers).toEqual([]);
    expect(c.bootstrapNodes).toEqual([]);
    expect(c.expiration).toBeUndefined();
    expect(c.kinds.map((k) => k.name).sort()).toEqual(
      ['CERTIFICATE_BY_NODE', 'CERTIFICATE_BY_USER', 'SIP-REGISTRATION', 'TURN-SERVICE'].sort(),
    );
    expect(c.kinds.find((k) => k.name === 'SIP-REGISTRATION')?.accessControl).toBe('USER-NODE-MATCH');
    // Every copy of the app builds exactly the same document.
    expect(localOverlayConfiguration().xml).toBe(c.xml);
    expect(isLocalOverlay(c)).toBe(true);
    expect(isLocalOverlay({ instanceName: 'example.org' })).toBe(false);
  });
});

describe('decideLocalMerge: the rule', () => {
  const peer = (n: number, seenForMs = 60_000) => ({ nodeId: id(n), seenForMs });

  it('with nobody else around, stays', () => {
    expect(decideLocalMerge({ self: id(5), alone: true, aloneForMs: 1e6, peers: [], timing })).toEqual({
      action: 'stay',
    });
    // Our own announcement seen back (or a copied identity) is not somebody else.
    expect(decideLocalMerge({ self: id(5), alone: true, aloneForMs: 1e6, peers: [peer(5)], timing }).action).toBe(
      'stay',
    );
  });

  it('alone with a smaller peer around: rejoins at once, through every peer, smallest first', () => {
    const d = decideLocalMerge({
      self: id(5),
      alone: true,
      aloneForMs: 0,
      peers: [peer(9, 0), peer(3, 0), peer(1, 0)],
      timing,
    });
    expect(d).toMatchObject({ action: 'rejoin', through: [id(1), id(3), id(9)] });
  });

  it('alone with the smallest Node-ID: waits for the others to come, then goes to them', () => {
    const input = { self: id(1), alone: true, peers: [peer(7), peer(4)], timing };
    expect(decideLocalMerge({ ...input, aloneForMs: 4999 })).toEqual({ action: 'stay' });
    expect(decideLocalMerge({ ...input, aloneForMs: 5000 })).toMatchObject({
      action: 'rejoin',
      through: [id(4), id(7)],
    });
    // A peer seen only just now has not had its grace yet either.
    expect(decideLocalMerge({ ...input, aloneForMs: 9000, peers: [peer(4, 100)] })).toEqual({ action: 'stay' });
    expect(decideLocalMerge({ ...input, aloneForMs: 9000, peers: [peer(7, 100), peer(4, 6000)] })).toMatchObject({
      action: 'rejoin',
      through: [id(4), id(7)], // those past their grace first
    });
  });

  it('in a ring of several: the smallest LAN peer decides; checked first, moved only after settleMs outside', () => {
    const input = { self: id(5), alone: false, aloneForMs: 0, peers: [peer(8), peer(2), peer(3)], timing };
    expect(decideLocalMerge({ ...input, peers: [peer(8), peer(9)] })).toEqual({ action: 'stay' }); // we are smallest
    expect(decideLocalMerge(input)).toEqual({ action: 'check', candidate: id(2) });
    expect(decideLocalMerge({ ...input, outsideForMs: () => 14_999 })).toEqual({ action: 'check', candidate: id(2) });
    expect(decideLocalMerge({ ...input, outsideForMs: (n) => (n === id(2) ? 15_000 : undefined) })).toMatchObject({
      action: 'rejoin',
      through: [id(2), id(3), id(8)],
    });
  });

  it('compares Node-IDs as numbers, whatever the case of the hex', () => {
    expect(compareNodeIds('0a'.repeat(16), '0B'.repeat(16))).toBeLessThan(0);
    expect(compareNodeIds('FF'.repeat(16), 'ff'.repeat(16))).toBe(0);
    const d = decideLocalMerge({
      self: 'AB'.repeat(16),
      alone: true,
      aloneForMs: 0,
      peers: [{ nodeId: 'ab'.repeat(16), seenForMs: 0 }],
      timing,
    });
    expect(d.action).toBe('stay');
  });

  it('orders bootstrap addresses by peer, each address once', () => {
    const p = (n: number, host: string, port: number): LocalPeer => ({ nodeId: id(n), host, port, transport: 'dtls' });
    const peers = [p(2, '10.0.0.2', 1), p(1, '10.0.0.1', 5), p(1, '192.168.1.1', 5), p(2, '10.0.0.2', 1)];
    expect(bootstrapOrder([id(1), id(2)], peers)).toEqual([
      { host: '10.0.0.1', port: 5 },
      { host: '192.168.1.1', port: 5 },
      { host: '10.0.0.2', port: 1 },
    ]);
  });
});

// ---- a fake LAN: announcements and rings ----

class FakeLan {
  readonly clock = new VirtualClock();
  private readonly announced = new Map<string, LocalAnnouncement & { owner: FakeDiscovery }>();
  readonly discoveries = new Set<FakeDiscovery>();
  /** Listening members by port. */
  readonly listening = new Map<number, FakeMember>();
  private nextPort = 1000;
  /** Which groups of discoveries hear each other (a partition); default all. */
  partition: ((a: FakeDiscovery, b: FakeDiscovery) => boolean) | undefined;

  discovery(): FakeDiscovery {
    const d = new FakeDiscovery(this);
    this.discoveries.add(d);
    return d;
  }

  member(nodeId: string, options: { joinFails?: boolean } = {}): FakeMember {
    const m = new FakeMember(this, nodeId, this.nextPort++, options);
    this.listening.set(m.port, m);
    return m;
  }

  hears(a: FakeDiscovery, b: FakeDiscovery): boolean {
    return !this.partition || this.partition(a, b);
  }

  announce(owner: FakeDiscovery, a: LocalAnnouncement): void {
    this.announced.set(`${a.overlay} ${a.nodeId}`, { ...a, owner });
    for (const d of this.discoveries) if (d !== owner) d.update();
  }

  withdraw(owner: FakeDiscovery): void {
    for (const [key, a] of this.announced) if (a.owner === owner) this.announced.delete(key);
    for (const d of this.discoveries) d.update();
  }

  /** Rewrites an announcement's port (a dead peer's records that stay in caches). */
  peersFor(listener: FakeDiscovery, overlay: string): LocalPeer[] {
    return [...this.announced.values()]
      .filter((a) => a.overlay === overlay && a.owner !== listener && this.hears(listener, a.owner))
      .map((a) => ({ nodeId: a.nodeId, host: '10.0.0.1', port: a.port, transport: a.transport }));
  }

  /** Runs the virtual clock forward, letting promises settle between steps. */
  async run(ms: number, step = 50): Promise<void> {
    for (let t = 0; t < ms; t += step) {
      this.clock.advance(step);
      for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    }
  }

  rings(members: FakeMember[]): string[][] {
    const seen = new Set<Set<FakeMember>>();
    for (const m of members) if (m.ring) seen.add(m.ring);
    return [...seen].map((r) => [...r].map((m) => m.nodeId.slice(-2)).sort());
  }
}

class FakeDiscovery implements LocalDiscovery {
  private readonly browsers = new Set<{
    overlay: string;
    found: (p: LocalPeer) => void;
    gone?: (p: LocalPeer) => void;
    known: Map<string, LocalPeer>;
  }>();
  constructor(private readonly lan: FakeLan) {}

  announce(a: LocalAnnouncement): Promise<void> {
    this.lan.announce(this, a);
    return Promise.resolve();
  }

  browse(overlay: string, found: (p: LocalPeer) => void, gone?: (p: LocalPeer) => void): () => void {
    const b = { overlay, found, known: new Map<string, LocalPeer>(), ...(gone ? { gone } : {}) };
    this.browsers.add(b);
    // An mDNS query and its answers take a while (20-120 ms each).
    this.lan.clock.setTimeout(() => this.update(), 200);
    return () => this.browsers.delete(b);
  }

  peers(overlay: string): LocalPeer[] {
    return this.lan.peersFor(this, overlay);
  }

  update(): void {
    for (const b of this.browsers) {
      const now = new Map(this.lan.peersFor(this, b.overlay).map((p) => [`${p.nodeId} ${p.port}`, p]));
      for (const [k, p] of now) if (!b.known.has(k)) b.found(p);
      for (const [k, p] of b.known) if (!now.has(k)) b.gone?.(p);
      b.known = now;
    }
  }

  close(): Promise<void> {
    this.lan.withdraw(this);
    this.lan.discoveries.delete(this);
    return Promise.resolve();
  }
}

class FakeMember implements LocalOverlayMember {
  ring: Set<FakeMember> | undefined;
  stopped = false;
  constructor(
    private readonly lan: FakeLan,
    readonly nodeId: string,
    readonly port: number,
    private readonly options: { joinFails?: boolean },
  ) {}

  start(how: { firstNode: true } | { bootstrapNodes: { host: string; port: number }[] }): Promise<void> {
    if ('firstNode' in how) {
      this.ring = new Set([this]);
      return Promise.resolve();
    }
    for (const address of how.bootstrapNodes) {
      const via = this.lan.listening.get(address.port);
      if (via?.ring && !this.options.joinFails) {
        this.ring = via.ring;
        via.ring.add(this);
        return Promise.resolve();
      }
    }
    return Promise.reject(new Error('no bootstrap node answered'));
  }

  alone(): boolean {
    return this.ring?.size === 1;
  }

  responderFor(resourceId: string): Promise<string> {
    if (!this.ring) return Promise.reject(new Error('not in a ring'));
    const inRing = [...this.ring].find((m) => m.nodeId === resourceId);
    return Promise.resolve(inRing ? resourceId : this.nodeId);
  }

  reachable(peer: LocalPeer): Promise<boolean> {
    const m = this.lan.listening.get(peer.port);
    return m ? Promise.resolve(true) : Promise.reject(new Error('timeout'));
  }

  stop(): Promise<void> {
    this.stopped = true;
    this.ring?.delete(this);
    this.ring = undefined;
    this.lan.listening.delete(this.port);
    return Promise.resolve();
  }
}

interface Started {
  overlay: LocalOverlay;
  discovery: FakeDiscovery;
  members: FakeMember[];
  events: LocalOverlayEvent[];
  current(): FakeMember;
}

function peer(
  lan: FakeLan,
  n: number,
  options: { joinFails?: boolean; joinWindowMs?: number; failCreate?: number[] } = {},
): Started {
  const discovery = lan.discovery();
  const members: FakeMember[] = [];
  let created = 0;
  const overlay = new LocalOverlay({
    discovery,
    overlay: LOCAL_OVERLAY_NAME,
    transport: 'dtls',
    createMember: () => {
      if (options.failCreate?.includes(created++)) return Promise.reject(new Error('EADDRINUSE'));
      const m = lan.member(id(n), options);
      members.push(m);
      return Promise.resolve(m);
    },
    clock: lan.clock,
    timing: { joinWindowMs: options.joinWindowMs ?? 2000 },
  });
  const events: LocalOverlayEvent[] = [];
  overlay.on((e) => events.push(e));
  void overlay.start();
  return { overlay, discovery, members, events, current: () => members.at(-1) as FakeMember };
}

describe('LocalOverlay over a fake LAN', () => {
  it('two peers started at once each form a ring; the larger Node-ID moves to the smaller at once', async () => {
    const lan = new FakeLan();
    const a = peer(lan, 0x20);
    const b = peer(lan, 0x10);
    await lan.run(2050);
    // Neither was announced during the other's join window: both formed.
    expect(a.events[0]?.type).toBe('formed');
    expect(b.events[0]?.type).toBe('formed');
    await lan.run(500);
    expect(lan.rings([a.current(), b.current()])).toEqual([['10', '20']]);
    expect(a.events.map((e) => e.type)).toEqual(['formed', 'rejoining', 'joined']);
    expect(b.events.map((e) => e.type)).toEqual(['formed']);
    expect(a.members[0]?.stopped).toBe(true); // the old incarnation left
    expect(a.overlay.member).toBe(a.current());
  });

  it('a peer started later joins the ring it discovers and never forms one', async () => {
    const lan = new FakeLan();
    const a = peer(lan, 0x30);
    await lan.run(2100);
    const b = peer(lan, 0x05); // smaller than everyone: it still joins, nobody moves
    await lan.run(2100);
    expect(b.events.map((e) => e.type)).toEqual(['joined']);
    await lan.run(60_000);
    expect(lan.rings([a.current(), b.current()])).toEqual([['05', '30']]);
    expect(a.overlay.counters.rejoins + b.overlay.counters.rejoins).toBe(0);
  });

  it('the join window ends foundGraceMs after the first peer answers; with nobody there it lasts joinWindowMs', async () => {
    const lan = new FakeLan();
    const a = peer(lan, 0x30);
    await lan.run(1900);
    expect(a.events).toEqual([]); // nobody answered: the whole window
    await lan.run(200);
    expect(a.events.map((e) => e.type)).toEqual(['formed']);
    const b = peer(lan, 0x40);
    await lan.run(600); // the fake answers after 200 ms, then the default grace (250 ms): well before 2 s
    expect(b.events.map((e) => e.type)).toEqual(['joined']);
    expect(lan.rings([a.current(), b.current()])).toEqual([['30', '40']]);
  });

  it('the smallest peer, alone while larger ones sit in a ring, goes to them after its grace; they stay', async () => {
    const lan = new FakeLan();
    const x = peer(lan, 0x40);
    await lan.run(2100);
    const y = peer(lan, 0x50);
    await lan.run(2100);
    // The smallest starts with no join window (as if mDNS had not answered in time): it forms alone.
    const s = peer(lan, 0x01, { joinWindowMs: 0 });
    await lan.run(100);
    expect(s.events.map((e) => e.type)).toEqual(['formed']);
    await lan.run(30_000);
    expect(lan.rings([x.current(), y.current(), s.current()])).toEqual([['01', '40', '50']]);
    expect(s.events.map((e) => e.type)).toEqual(['formed', 'rejoining', 'joined']);
    expect(x.overlay.counters.rejoins + y.overlay.counters.rejoins).toBe(0);
  });

  it('two rings of several that meet (a healed partition) become one: the ring without the smallest moves', async () => {
    const lan = new FakeLan();
    const left = new Set<FakeDiscovery>();
    lan.partition = (a, b) => left.has(a) === left.has(b);
    const ringA = [peer(lan, 0x11), peer(lan, 0x71)];
    for (const p of ringA) left.add(p.discovery);
    const ringB = [peer(lan, 0x22), peer(lan, 0x82)];
    await lan.run(10_000);
    const all = [...ringA, ...ringB];
    expect(lan.rings(all.map((p) => p.current()))).toEqual([
      ['11', '71'],
      ['22', '82'],
    ]);
    const rejoins = () => all.map((p) => p.overlay.counters.rejoins);
    const before = rejoins();
    lan.partition = undefined;
    for (const d of lan.discoveries) d.update();
    await lan.run(10_000);
    expect(lan.rings(all.map((p) => p.current()))).toHaveLength(2); // not before settleMs
    await lan.run(15_000);
    expect(lan.rings(all.map((p) => p.current()))).toEqual([['11', '22', '71', '82']]);
    // Ring A holds the smallest Node-ID: it stays; each peer of ring B rejoined once.
    expect(rejoins().map((n, i) => n - (before[i] as number))).toEqual([0, 0, 1, 1]);
  });

  it('a dead smallest peer whose records outlive it moves nobody for long', async () => {
    const lan = new FakeLan();
    const ghost = lan.discovery();
    // Announced, but nothing listens there.
    await ghost.announce({ overlay: LOCAL_OVERLAY_NAME, nodeId: id(1), port: 9, transport: 'dtls' });
    const a = peer(lan, 0x60);
    const b = peer(lan, 0x70);
    await lan.run(2500);
    // Both tried the ghost first, failed, and formed; then one joined the other.
    await lan.run(10_000);
    expect(lan.rings([a.current(), b.current()])).toEqual([['60', '70']]);
    const rejoins = a.overlay.counters.rejoins + b.overlay.counters.rejoins;
    // A ring of several checks the ghost, finds it outside, and after settleMs finds it unreachable: it stays.
    await lan.run(60_000);
    expect(a.overlay.counters.rejoins + b.overlay.counters.rejoins).toBe(rejoins);
    expect(lan.rings([a.current(), b.current()])).toEqual([['60', '70']]);
  });

  it('a rejoin that cannot make a new node is tried again at the next check', async () => {
    const lan = new FakeLan();
    const a = peer(lan, 0x20, { failCreate: [1] }); // its second node (the rejoin's) fails to listen
    const b = peer(lan, 0x10);
    await lan.run(2600);
    expect(a.overlay.member).toBeUndefined();
    expect(a.members).toHaveLength(1);
    await lan.run(2500);
    expect(lan.rings([a.current(), b.current()])).toEqual([['10', '20']]);
    expect(a.events.map((e) => e.type)).toEqual(['formed', 'rejoining', 'rejoining', 'joined']);
  });

  it('refuses bad options with typed errors naming the field', () => {
    const lan = new FakeLan();
    const base = {
      discovery: lan.discovery(),
      overlay: LOCAL_OVERLAY_NAME,
      transport: 'dtls' as const,
      createMember: () => Promise.resolve(lan.member(id(1))),
    };
    const field = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        expect(error).toBeInstanceOf(LocalDiscoveryArgumentError);
        return (error as LocalDiscoveryArgumentError).field;
      }
      return undefined;
    };
    expect(field(() => new LocalOverlay({ ...base, timing: { aloneGraceMs: -1 } }))).toBe('timing.aloneGraceMs');
    expect(field(() => new LocalOverlay({ ...base, timing: { checkIntervalMs: 5 } }))).toBe('timing.checkIntervalMs');
    expect(field(() => new LocalOverlay({ ...base, transport: 'udp' as never }))).toBe('transport');
    expect(field(() => new LocalOverlay({ ...base, createMember: undefined as never }))).toBe('createMember');
  });
});
