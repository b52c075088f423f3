/**
 * Resolution against hostile records (RFC 7904 §8): a storing peer that plants values USER-NODE-MATCH
 * forbids (wrong user, wrong key) is not believed; forwarding chains and fan-outs cannot make one call
 * resolve into unbounded Fetches or targets; garbage in a uri entry or a huge target costs nothing.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { OverlaySimulation } from '../../src-main/reload/sim';
import { toHex } from '../../src-main/reload';
import { InvalidTargetError } from '../../src-main/sip/resolution/errors';
import {
  DOMAIN,
  devicesOf,
  forward,
  plantForged,
  register,
  resolverOn,
  route,
  signedEntry,
  startSim,
  toNode,
} from '../unit/src-main/sip/resolution/registration-sim';

let sim: OverlaySimulation;
const aor = (name: string) => `${name}@${DOMAIN}`;

beforeAll(async () => {
  sim = await startSim(4, 23);
}, 60_000);

describe('caller-side USER-NODE-MATCH', () => {
  it('discards a value signed by a user who is not the AOR, and one keyed by another Node-ID', async () => {
    const [alice] = await devicesOf(sim, aor('victim'));
    const [mallory] = await devicesOf(sim, aor('mallory'));
    register(sim, alice!, route(toNode(alice!.nodeId)));
    // Mallory's own key, at H(victim): the storing peer (hers, or compromised) keeps it without checks.
    plantForged(
      sim,
      signedEntry(sim, mallory!, route(toNode(mallory!.nodeId)), 600, { aor: aor('victim') }),
      mallory!.der,
    );
    // Alice's key but a dictionary key that is not her Node-ID (a replayed or bent entry).
    const stranger = Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i);
    plantForged(sim, signedEntry(sim, alice!, route(toNode(stranger)), 600, { key: stranger }), alice!.der);
    const { resolver } = resolverOn(sim, 1);
    const r = await sim.until(resolver.resolve(aor('victim')));
    expect(r.status).toBe('found');
    expect(r.targets.map((t) => toHex(t.nodeId!))).toEqual([toHex(alice!.nodeId)]);
    expect(resolver.counters.discarded).toBe(2);
  }, 60_000);

  it('an AOR holding only a forged value is not found', async () => {
    const [mallory] = await devicesOf(sim, aor('mallory2'));
    plantForged(
      sim,
      signedEntry(sim, mallory!, route(toNode(mallory!.nodeId)), 600, { aor: aor('empty-victim') }),
      mallory!.der,
    );
    const { resolver } = resolverOn(sim, 2);
    expect((await sim.until(resolver.resolve(aor('empty-victim')))).status).toBe('not-found');
  }, 60_000);
});

describe('bounded forwarding', () => {
  it('a chain of 100 forwards stops at the depth limit after maxDepth + 1 Fetches', async () => {
    const names = Array.from({ length: 100 }, (_, i) => aor(`fwd${i}`));
    for (let i = 0; i < names.length; i++) {
      const [d] = await devicesOf(sim, names[i]!);
      register(sim, d!, i < names.length - 1 ? forward(names[i + 1]!) : route(toNode(d!.nodeId)));
    }
    const { resolver, source } = resolverOn(sim, 0);
    const r = await sim.until(resolver.resolve(names[0]!));
    expect(r.status).toBe('depth-exceeded');
    expect(source.log).toHaveLength(resolver.maxDepth + 1);
  }, 120_000);

  it('a fan-out of 100 routes (10 forwards × 10 devices) yields at most maxForks forks', async () => {
    const leaves = Array.from({ length: 10 }, (_, i) => aor(`leaf${i}`));
    const roots = await devicesOf(sim, aor('fan'), 10);
    roots.forEach((d, i) => register(sim, d, forward(leaves[i]!)));
    for (const leaf of leaves) {
      const devices = await devicesOf(sim, leaf, 10);
      for (const d of devices) register(sim, d, route(toNode(d.nodeId)));
    }
    // Without a cap all 100 are there (the bound below is the resolver's, not the data's).
    const open = resolverOn(sim, 3, { maxForks: 1000 });
    expect((await sim.until(open.resolver.resolve(aor('fan')))).targets).toHaveLength(100);

    const { resolver, source } = resolverOn(sim, 3, { maxForks: 32 });
    const r = await sim.until(resolver.resolve(aor('fan')));
    expect(r.status).toBe('found');
    expect(r.problems).toContainEqual({ kind: 'too-many-forks', limit: 32 });
    // Forks = routes taken + forwards followed ≤ 32; every Fetch but the first is a followed forward.
    expect(r.targets.length + (source.log.length - 1)).toBeLessThanOrEqual(32);
    expect(source.log.length).toBeLessThanOrEqual(33);
  }, 120_000);

  it('a uri entry that is not an AOR is skipped as a bad forward', async () => {
    const [d] = await devicesOf(sim, aor('garbage'));
    register(sim, d!, { type: 'uri', uri: Uint8Array.of(0xff, 0xfe, 0x00, 0x3c) });
    const { resolver } = resolverOn(sim, 0);
    const r = await sim.until(resolver.resolve(aor('garbage')));
    expect(r.status).toBe('not-found');
    expect(r.problems[0]).toMatchObject({ kind: 'bad-forward', aor: aor('garbage') });
  }, 60_000);

  it('a megabyte target is refused before any work', async () => {
    const { resolver, source } = resolverOn(sim, 0);
    await expect(resolver.resolve(`sip:${'a'.repeat(1 << 20)}@${DOMAIN}`)).rejects.toThrow(InvalidTargetError);
    expect(source.log).toHaveLength(0);
  });
});
