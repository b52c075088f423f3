/**
 * AorResolver on the in-memory overlay (virtual clock): routes, devices, forwarding chains, loops, depth,
 * de-duplication, GRUUs without Fetch, negative and positive caching bounded by the records' lifetimes.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { OverlaySimulation } from '../../../../../src-main/reload/sim';
import { toHex } from '../../../../../src-main/reload';
import { gruuFor } from '../../../../../src-main/sip/gruu';
import {
  DOMAIN,
  devicesOf,
  forward,
  register,
  registerOwn,
  resolverOn,
  route,
  startSim,
  toNode,
} from './registration-sim';

let sim: OverlaySimulation;
const aor = (name: string) => `${name}@${DOMAIN}`;
const hex = (ids: (Uint8Array | undefined)[]) => ids.map((id) => (id ? toHex(id) : '-')).sort();

beforeAll(async () => {
  sim = await startSim(5, 17);
}, 60_000);

describe('AorResolver', () => {
  it('finds a route record stored with the real Store (sip: scheme and %-escapes accepted)', async () => {
    const owner = sim.nodes[1]!.node;
    await registerOwn(sim, 1, route(toNode(owner.nodeId), '(sip.schemes=SIPS)'));
    const { resolver, source } = resolverOn(sim, 3);
    const r = await sim.until(resolver.resolve('sip:sim%31@SIM.example.org'));
    expect(r.status).toBe('found');
    expect(r.aor).toBe(aor('sim1'));
    expect(r.targets).toHaveLength(1);
    expect(toHex(r.targets[0]!.nodeId!)).toBe(toHex(owner.nodeId));
    expect(toHex(r.targets[0]!.registeredBy!)).toBe(toHex(owner.nodeId));
    expect(r.targets[0]!.contactPrefs).toBe('(sip.schemes=SIPS)');
    expect(r.targets[0]!.viaAors).toEqual([]);
    expect(source.log).toHaveLength(1);
  }, 60_000);

  it('two devices of one AOR give two targets', async () => {
    const [desk, cell] = await devicesOf(sim, aor('twodev'), 2);
    register(sim, desk!, route(toNode(desk!.nodeId)));
    register(sim, cell!, route(toNode(cell!.nodeId)));
    const { resolver } = resolverOn(sim, 0);
    const r = await sim.until(resolver.resolve(aor('twodev')));
    expect(r.status).toBe('found');
    expect(hex(r.targets.map((t) => t.nodeId))).toEqual(hex([desk!.nodeId, cell!.nodeId]));
  }, 60_000);

  it('follows a uri chain a → b → c and reports the forwarding chain', async () => {
    const [a] = await devicesOf(sim, aor('chain-a'));
    const [b] = await devicesOf(sim, aor('chain-b'));
    const [c] = await devicesOf(sim, aor('chain-c'));
    register(sim, a!, forward(aor('chain-b')));
    register(sim, b!, forward(`sip:${aor('chain-c')}`)); // a scheme in the stored uri is accepted
    register(sim, c!, route(toNode(c!.nodeId)));
    const { resolver, source } = resolverOn(sim, 2);
    const r = await sim.until(resolver.resolve(aor('chain-a')));
    expect(r.status).toBe('found');
    expect(r.targets).toHaveLength(1);
    expect(r.targets[0]).toMatchObject({ aor: aor('chain-c'), viaAors: [aor('chain-a'), aor('chain-b')] });
    expect(source.log.map((f) => f.aor)).toEqual([aor('chain-a'), aor('chain-b'), aor('chain-c')]);
  }, 60_000);

  it('detects a loop a → b → a', async () => {
    const [a] = await devicesOf(sim, aor('loop-a'));
    const [b] = await devicesOf(sim, aor('loop-b'));
    register(sim, a!, forward(aor('loop-b')));
    register(sim, b!, forward(aor('loop-a')));
    const { resolver, source } = resolverOn(sim, 4);
    const r = await sim.until(resolver.resolve(aor('loop-a')));
    expect(r.status).toBe('loop');
    expect(r.problems).toContainEqual({ kind: 'loop', chain: [aor('loop-a'), aor('loop-b'), aor('loop-a')] });
    expect(source.log).toHaveLength(2);
  }, 60_000);

  it('stops at the depth limit', async () => {
    const names = ['d0', 'd1', 'd2', 'd3', 'd4'].map(aor);
    for (let i = 0; i < names.length; i++) {
      const [d] = await devicesOf(sim, names[i]!);
      register(sim, d!, i < names.length - 1 ? forward(names[i + 1]!) : route(toNode(d!.nodeId)));
    }
    const { resolver, source } = resolverOn(sim, 1, { maxDepth: 2 });
    const r = await sim.until(resolver.resolve(names[0]!));
    expect(r.status).toBe('depth-exceeded');
    expect(r.targets).toEqual([]);
    expect(source.log).toHaveLength(3); // d0, d1, d2; d3 is three hops away
    // With room for four hops the same chain resolves.
    const deeper = resolverOn(sim, 1, { maxDepth: 4 }).resolver;
    expect((await sim.until(deeper.resolve(names[0]!))).status).toBe('found');
  }, 60_000);

  it('keeps equal destination lists once (two devices ringing one phone, and a forward to it)', async () => {
    const [desk, cell] = await devicesOf(sim, aor('dup'), 2);
    const [other] = await devicesOf(sim, aor('dup-fwd'));
    register(sim, desk!, route(toNode(cell!.nodeId))); // desk calls ring the cell (RFC 7904 §3.1)
    register(sim, cell!, route(toNode(cell!.nodeId)));
    register(sim, other!, forward(aor('dup')));
    const { resolver } = resolverOn(sim, 0);
    const r = await sim.until(resolver.resolve(aor('dup-fwd')));
    expect(r.status).toBe('found');
    expect(r.targets).toHaveLength(1);
    expect(toHex(r.targets[0]!.nodeId!)).toBe(toHex(cell!.nodeId));
  }, 60_000);

  it('resolves a GRUU of this overlay without any Fetch', async () => {
    const { resolver, source } = resolverOn(sim, 0);
    const target = sim.nodes[2]!.node.nodeId;
    const r = await resolver.resolve(`sip:${gruuFor(aor('gruu-user'), toNode(target), 16)}`);
    expect(r.status).toBe('found');
    expect(toHex(r.targets[0]!.nodeId!)).toBe(toHex(target));
    expect(r.targets[0]!.registeredBy).toBeUndefined();
    expect(source.log).toHaveLength(0);
    expect(resolver.counters.fetches).toBe(0);
  });

  it('an unknown AOR is not found and cached as such for 5 s', async () => {
    const { resolver, source } = resolverOn(sim, 3);
    expect((await sim.until(resolver.resolve(aor('nobody')))).status).toBe('not-found');
    expect((await sim.until(resolver.resolve(aor('nobody')))).status).toBe('not-found');
    expect(source.log).toHaveLength(1);
    await sim.run(5_000, 50);
    await sim.until(resolver.resolve(aor('nobody')));
    expect(source.log).toHaveLength(2);
  }, 60_000);

  it('a cached route lasts no longer than the record (10 s) nor 30 s', async () => {
    const [short] = await devicesOf(sim, aor('short'));
    const [long] = await devicesOf(sim, aor('long'));
    register(sim, short!, route(toNode(short!.nodeId)), 10);
    register(sim, long!, route(toNode(long!.nodeId)), 3600);
    const { resolver, source } = resolverOn(sim, 2);
    const count = (name: string) => source.log.filter((f) => f.aor === aor(name)).length;
    expect((await sim.until(resolver.resolve(aor('short')))).status).toBe('found');
    expect((await sim.until(resolver.resolve(aor('long')))).status).toBe('found');
    await sim.run(8_000, 50);
    expect((await sim.until(resolver.resolve(aor('short')))).status).toBe('found');
    expect(count('short')).toBe(1); // still cached at 8 s
    await sim.run(3_000, 50);
    expect((await sim.until(resolver.resolve(aor('short')))).status).toBe('not-found'); // expired everywhere
    expect(count('short')).toBe(2);
    await sim.run(17_000, 50); // ~28 s after the first Fetch
    await sim.until(resolver.resolve(aor('long')));
    expect(count('long')).toBe(1);
    await sim.run(3_000, 50);
    await sim.until(resolver.resolve(aor('long')));
    expect(count('long')).toBe(2);
  }, 60_000);

  it('a deregistration (exists = false) means not found; invalidate() forces a fresh Fetch', async () => {
    const [d] = await devicesOf(sim, aor('dereg'));
    register(sim, d!, route(toNode(d!.nodeId)));
    const { resolver, source } = resolverOn(sim, 4);
    expect((await sim.until(resolver.resolve(aor('dereg')))).status).toBe('found');
    register(sim, d!, undefined, 600);
    expect((await sim.until(resolver.resolve(aor('dereg')))).status).toBe('found'); // cached
    resolver.invalidate(aor('dereg'));
    expect((await sim.until(resolver.resolve(aor('dereg')))).status).toBe('not-found');
    expect(source.log).toHaveLength(2);
  }, 60_000);

  it('a node not in an overlay reports fetch-failed without fetching', async () => {
    const idle = await sim.addNode();
    const { resolver, source } = resolverOn(sim, idle.index);
    const r = await resolver.resolve(aor('sim1'));
    expect(r).toMatchObject({ status: 'fetch-failed', reason: `${aor('sim1')}: not joined to an overlay` });
    expect(source.log).toHaveLength(0);
  });

  it('an AOR of a domain this overlay does not serve is not fetched', async () => {
    const { resolver, source } = resolverOn(sim, 0);
    expect((await resolver.resolve('sip:bob@elsewhere.example')).status).toBe('not-served');
    expect(source.log).toHaveLength(0);
  });

  it('the cache holds at most maxEntries AORs (least recently used goes first)', async () => {
    const { resolver, source } = resolverOn(sim, 0, { cache: { maxEntries: 2 } });
    for (const n of ['lru1', 'lru2', 'lru1', 'lru3']) await sim.until(resolver.resolve(aor(n)));
    expect(resolver.cache.size).toBe(2);
    await sim.until(resolver.resolve(aor('lru1'))); // kept (used more recently than lru2)
    await sim.until(resolver.resolve(aor('lru2'))); // dropped: fetched again
    expect(source.log.map((f) => f.aor.split('@')[0])).toEqual(['lru1', 'lru2', 'lru3', 'lru2']);
  }, 60_000);
});
