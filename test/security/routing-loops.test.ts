/**
 * No destination makes a message visit a peer twice (RFC 6940 §6.1 with the CHORD-RELOAD Routing Table).
 * The real routing decision (destination-routing.ts) and the real ChordRoutingTable are walked hop by hop
 * over random rings: consistent ones (every peer knows its true neighbours) and inconsistent ones (random
 * partial tables, links beyond the Routing Table), for Node-IDs of peers, free Node-IDs next to peers, the
 * wildcard and Resource-IDs. In consistent rings the message must also end where it belongs, so a rule that
 * dropped everything would not pass. A message whose next hop it has visited already is dropped as looping;
 * only its originator may be passed once more (in a consistent ring only as the last stop, when the
 * originator's own range holds the free Node-ID it sent).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ChordRoutingTable, Ring } from '../../src-main/reload/topology';
import {
  isWildcardNodeId,
  nextHop,
  routeReceived,
  type RoutingView,
} from '../../src-main/reload/transport/destination-routing';
import { bytesEqual, toHex, type Destination } from '../../src-main/reload/wire';

/** A 16-bit ring: random destinations land on, beside and between peers. */
const ring = new Ring(16);
const WILDCARD = ring.fromBig(ring.size - 1n);

interface Peer {
  id: Uint8Array;
  table: ChordRoutingTable;
  links: Set<string>;
  view: RoutingView;
}

interface Walk {
  /** Every node the message arrived at, in order (the originator first). */
  path: string[];
  /** Where it was delivered, or why it stopped. */
  end: { delivered: string } | { dropped: string };
}

function buildRing(
  ids: number[],
  consistent: boolean,
  pick: (n: number) => number,
  extraLinks: [number, number][],
): Peer[] {
  const sorted = [...new Set(ids.filter((x) => x !== 0xffff))].sort((a, b) => a - b);
  const peers = sorted.map((x): Peer => {
    const id = ring.fromBig(BigInt(x));
    const table = new ChordRoutingTable(ring, id, { neighbours: 3, fingers: 16 });
    const links = new Set<string>();
    const peer: Peer = {
      id,
      table,
      links,
      view: { self: id, topology: table, linked: (other) => links.has(toHex(other)) },
    };
    return peer;
  });
  const link = (a: Peer, b: Peer) => {
    if (a === b) return;
    a.links.add(toHex(b.id));
    b.links.add(toHex(a.id));
  };
  peers.forEach((p, i) => {
    const n = peers.length;
    const known = new Set<number>();
    if (consistent) for (let d = 1; d <= Math.min(3, n - 1); d++) known.add((i + d) % n).add((i - d + n) % n);
    // Some random others (fingers, stale entries); an inconsistent ring has only these.
    const others = pick(n);
    for (let k = 0; k < others; k++) known.add(pick(n));
    known.delete(i);
    for (const j of known) {
      const other = peers[j] as Peer;
      p.table.add(other.id);
      link(p, other); // a Routing Table peer is always linked (on both ends)
    }
  });
  // Links outside the Routing Tables (clients, peers still joining, links kept after a table change).
  for (const [a, b] of extraLinks) if (peers.length > 0) link(peers[a % peers.length]!, peers[b % peers.length]!);
  return peers;
}

/** Sends from `source` the way MessageTransport.request does, then applies routeReceived at every hop. */
function walk(peers: Peer[], source: Peer, destination: Destination): Walk {
  const byId = new Map(peers.map((p) => [toHex(p.id), p]));
  const path = [toHex(source.id)];
  const only = destination.type === 'node' || destination.type === 'resource' ? destination : undefined;
  if (!only) throw new Error('single Node-ID or Resource-ID destinations only');
  // Origination: ours, the wildcard, or a Resource-ID we are responsible for is answered locally.
  if (
    (only.type === 'node' && (bytesEqual(only.id, source.id) || isWildcardNodeId(only.id))) ||
    (only.type === 'resource' && source.table.isResponsible(only.id))
  )
    return { path, end: { delivered: toHex(source.id) } };
  const first = only.type === 'node' && source.view.linked(only.id) ? only.id : nextHop(only.id, [], source.view);
  if (!first || first === 'loop') return { path, end: { dropped: 'no-route at the originator' } };
  let at = byId.get(toHex(first)) as Peer;
  let from = source;
  const via: Uint8Array[] = [];
  for (let hop = 0; hop < 10 * peers.length + 10; hop++) {
    path.push(toHex(at.id));
    // As MessageTransport passes it: where the message has been, its originator left out.
    const decision = routeReceived([only], via.length === 0 ? [] : [...via.slice(1), from.id], at.view);
    if (decision.action === 'deliver') return { path, end: { delivered: toHex(at.id) } };
    if (decision.action === 'drop') return { path, end: { dropped: decision.reason } };
    expect(at.view.linked(decision.to)).toBe(true);
    via.push(from.id);
    from = at;
    at = byId.get(toHex(decision.to)) as Peer;
  }
  return { path, end: { dropped: 'walked too long' } };
}

const responsibleFor = (peers: Peer[], k: bigint): Peer =>
  peers.find((p) => ring.toBig(p.id) >= k) ?? (peers[0] as Peer);

const destinationArb = (ids: number[]) =>
  fc
    .oneof(
      fc.record({ kind: fc.constant('peer' as const), index: fc.nat(), delta: fc.constantFrom(0, -1, 1, -2, 2) }),
      fc.record({ kind: fc.constant('random' as const), value: fc.integer({ min: 1, max: 0xffff }) }),
      fc.constant({ kind: 'wildcard' as const }),
    )
    .map((d) => {
      if (d.kind === 'wildcard') return WILDCARD;
      if (d.kind === 'random') return ring.fromBig(BigInt(d.value));
      const base = ids[d.index % ids.length] as number;
      return ring.fromBig(BigInt((base + d.delta + 0x10000) % 0x10000));
    });

const scenario = fc.uniqueArray(fc.integer({ min: 1, max: 0xfffe }), { minLength: 2, maxLength: 24 }).chain((ids) =>
  fc.record({
    ids: fc.constant(ids),
    consistent: fc.boolean(),
    picks: fc.array(fc.nat(), { minLength: 64, maxLength: 64 }),
    extraLinks: fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 6 }),
    source: fc.nat(),
    target: destinationArb(ids),
    asResource: fc.boolean(),
  }),
);

describe('routing over random rings', () => {
  it('no destination makes a message arrive at a peer twice, its originator once more at most', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        let cursor = 0;
        const pick = (n: number) => (s.picks[cursor++ % s.picks.length] as number) % Math.max(1, n);
        const peers = buildRing(s.ids, s.consistent, pick, s.consistent ? [] : s.extraLinks);
        const source = peers[s.source % peers.length] as Peer;
        const destination: Destination =
          s.asResource && !isWildcardNodeId(s.target)
            ? { type: 'resource', id: s.target }
            : { type: 'node', id: s.target };
        const result = walk(peers, source, destination);
        expect(result.end).not.toEqual({ dropped: 'walked too long' });
        // Every peer at most once; the originator may be passed once more (see destination-routing.ts).
        const [origin, ...rest] = result.path;
        expect(new Set(rest).size).toBe(rest.length);
        expect(rest.filter((p) => p === origin).length).toBeLessThanOrEqual(1);
        if (s.consistent) expect(rest.slice(0, -1)).not.toContain(origin);
        if (!s.consistent) return;
        // Consistent tables: it ends where it belongs.
        const k = ring.toBig(s.target);
        const owner = peers.find((p) => bytesEqual(p.id, s.target));
        if (destination.type === 'resource')
          expect(result.end).toEqual({ delivered: toHex(responsibleFor(peers, k).id) });
        else if (isWildcardNodeId(s.target))
          expect(result.end).toEqual({ delivered: result.path[Math.min(1, result.path.length - 1)] });
        else if (owner) expect(result.end).toEqual({ delivered: toHex(owner.id) });
        else {
          // A free Node-ID: dropped by the peer whose range holds it; when that is the originator, after one
          // hop to its predecessor and back.
          const holder = toHex(responsibleFor(peers, k).id);
          expect(result.end).toEqual({ dropped: 'node-in-our-range' });
          expect(result.path.at(-1)).toBe(holder);
          if (holder === toHex(source.id)) expect(result.path.length).toBeLessThanOrEqual(3);
        }
      }),
      { numRuns: 2000, seed: 6940 },
    );
  });

  it('a message for a free Node-ID stops at the peer whose range holds it, after at most one pass', () => {
    // Ten peers, each knowing only its successor and predecessor: the long way round is the only way.
    const ids = [100, 7000, 13000, 20000, 26000, 33000, 40000, 47000, 54000, 61000];
    const peers = buildRing(ids, true, () => 0, []);
    const free = ring.fromBig(32999n); // inside 33000's range
    const result = walk(peers, peers[4] as Peer, { type: 'node', id: free });
    expect(result.end).toEqual({ dropped: 'node-in-our-range' });
    expect(result.path.at(-1)).toBe(toHex(ring.fromBig(33000n)));
  });
});
