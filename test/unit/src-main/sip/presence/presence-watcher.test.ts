/**
 * PresenceWatcher on the in-memory overlay with its virtual clock: online/offline/unknown with events on
 * change only, at most one Fetch per AOR per interval, doubling back-off for offline AORs, first checks
 * spread over the interval, and the worst-case delays stated in the module.
 */
import { describe, expect, it } from 'vitest';
import { toHex } from '../../../../../src-main/reload';
import { PresenceWatcher, type PresenceChange } from '../../../../../src-main/sip/presence/presence-watcher';
import { InvalidTargetError } from '../../../../../src-main/sip/resolution/errors';
import { gruuFor } from '../../../../../src-main/sip/gruu';
import { DOMAIN, devicesOf, register, resolverOn, route, startSim, toNode } from '../resolution/registration-sim';

const aor = (name: string) => `${name}@${DOMAIN}`;
const I = 30_000;
// Worst cases with the defaults (module comment): B + J·I + T + F and I + J·I + T + F.
const APPEAR_MS = 120_000 + 3_000 + 1_000 + 10_000;
const DISAPPEAR_MS = 30_000 + 3_000 + 1_000 + 10_000;

describe('PresenceWatcher', () => {
  it('reports online, offline and unknown, with an event only when the presence changes', async () => {
    const sim = await startSim(5, 41);
    const [alice] = await devicesOf(sim, aor('p-alice'));
    const [bob] = await devicesOf(sim, aor('p-bob'));
    register(sim, alice!, route(toNode(alice!.nodeId), '(sip.schemes=SIP)'), 3600);
    const { resolver } = resolverOn(sim, 4);
    const watcher = new PresenceWatcher({ resolver, clock: sim.clock, random: sim.random });
    const events: (PresenceChange & { at: number })[] = [];
    watcher.onChange((c) => events.push({ ...c, at: sim.clock.now() }));
    watcher.setAors([aor('p-alice'), `sip:${aor('p-bob')}`]);
    expect(watcher.state(aor('p-bob'))).toEqual({ status: 'unknown', reason: 'not checked yet' });

    await sim.run(I + 2_000, 20);
    expect(events.map((e) => [e.aor, e.previous.status, e.state.status]).sort()).toEqual([
      [aor('p-alice'), 'unknown', 'online'],
      [aor('p-bob'), 'unknown', 'offline'],
    ]);
    const online = watcher.state(aor('p-alice'));
    expect(online?.status === 'online' && online.devices.map((d) => [toHex(d.nodeId), d.contactPrefs])).toEqual([
      [toHex(alice!.nodeId), '(sip.schemes=SIP)'],
    ]);

    // Several more checks of each: nothing changed, so nothing is reported.
    await sim.run(100_000, 20);
    expect(events).toHaveLength(2);

    // Bob appears; the event comes within the worst case for an offline (backed-off) AOR.
    const registered = sim.clock.now();
    register(sim, bob!, route(toNode(bob!.nodeId)), 3600);
    await sim.run(APPEAR_MS, 20);
    const bobOnline = events.find((e) => e.aor === aor('p-bob') && e.state.status === 'online');
    expect(bobOnline).toBeDefined();
    expect(bobOnline!.at - registered).toBeLessThanOrEqual(APPEAR_MS);

    // Alice deregisters: offline within I + J·I + T + F.
    const left = sim.clock.now();
    register(sim, alice!, undefined, 3600);
    await sim.run(DISAPPEAR_MS, 20);
    const aliceOffline = events.find((e) => e.aor === aor('p-alice') && e.state.status === 'offline');
    expect(aliceOffline!.at - left).toBeLessThanOrEqual(DISAPPEAR_MS);
    expect(events).toHaveLength(4);

    // The watcher's node leaves the overlay: both AORs become unknown, one event each.
    await sim.until(sim.nodes[4]!.node.stop());
    await sim.run(DISAPPEAR_MS, 20);
    const unknown = events.filter((e) => e.state.status === 'unknown');
    expect(unknown.map((e) => e.aor).sort()).toEqual([aor('p-alice'), aor('p-bob')]);
    expect(unknown[0]!.state).toEqual({ status: 'unknown', reason: 'not joined to an overlay' });
    await sim.run(2 * I, 50);
    expect(events).toHaveLength(6);
    watcher.stop();
  }, 120_000);

  it('fetches each AOR at most once per interval, spreads first checks, and backs off offline AORs', async () => {
    const sim = await startSim(4, 43);
    const registered = Array.from({ length: 20 }, (_, i) => aor(`p-on${i}`));
    const absent = Array.from({ length: 10 }, (_, i) => aor(`p-off${i}`));
    for (const name of registered) {
      const [d] = await devicesOf(sim, name);
      register(sim, d!, route(toNode(d!.nodeId)), 3600);
    }
    const { resolver, source } = resolverOn(sim, 1);
    const watcher = new PresenceWatcher({ resolver, clock: sim.clock, random: sim.random });
    const start = sim.clock.now();
    watcher.setAors([...registered, ...absent]);
    await sim.run(400_000, 50);
    watcher.stop();

    const times = (name: string) => source.log.filter((f) => f.aor === name).map((f) => f.at - start);
    const gaps = (name: string) =>
      times(name)
        .slice(1)
        .map((t, i) => t - times(name)[i]!);
    for (const name of [...registered, ...absent]) for (const gap of gaps(name)) expect(gap).toBeGreaterThanOrEqual(I);
    // Online: every I to I + J·I + T.
    for (const name of registered)
      for (const gap of gaps(name)) expect(gap).toBeLessThanOrEqual(I + 3_000 + 1_000 + 500);
    // Offline: 30, 60, 120, 120, … s (+ jitter and tick).
    for (const name of absent) {
      const g = gaps(name);
      expect(g.length).toBeGreaterThanOrEqual(3);
      [I, 2 * I, 4 * I, 4 * I, 4 * I].slice(0, g.length).forEach((base, i) => {
        expect(g[i]).toBeGreaterThanOrEqual(base);
        expect(g[i]).toBeLessThanOrEqual(base + 3_000 + 1_000 + 500);
      });
    }
    // First checks are spread over the first interval, not bunched.
    const firsts = [...registered, ...absent].map((n) => times(n)[0]!);
    expect(Math.max(...firsts)).toBeLessThanOrEqual(I + 1_500);
    expect(Math.max(...firsts) - Math.min(...firsts)).toBeGreaterThanOrEqual(I / 2);
    const perSecond = new Map<number, number>();
    for (const t of firsts) perSecond.set(Math.floor(t / 1000), (perSecond.get(Math.floor(t / 1000)) ?? 0) + 1);
    expect(Math.max(...perSecond.values())).toBeLessThanOrEqual(5);
  }, 180_000);

  it('a Fetch that gets no answer makes the AOR unknown within I + J·I + T + F; answers bring it back', async () => {
    const sim = await startSim(4, 59);
    const [carol] = await devicesOf(sim, aor('p-carol'));
    register(sim, carol!, route(toNode(carol!.nodeId)), 3600);
    const { resolver } = resolverOn(sim, 2);
    const watcher = new PresenceWatcher({ resolver, clock: sim.clock, random: sim.random });
    const events: (PresenceChange & { at: number })[] = [];
    watcher.onChange((c) => events.push({ ...c, at: sim.clock.now() }));
    watcher.setAors([aor('p-carol')]);
    await sim.run(I + 2_000, 20);
    expect(events.map((e) => e.state.status)).toEqual(['online']);
    const lost = sim.clock.now();
    sim.network.conditions.loss = 1; // every message dropped from now on
    await sim.run(DISAPPEAR_MS, 20);
    expect(events.map((e) => e.state.status)).toEqual(['online', 'unknown']);
    expect(events[1]!.at - lost).toBeLessThanOrEqual(DISAPPEAR_MS);
    expect(events[1]!.state.status === 'unknown' && events[1]!.state.reason).toMatch(/./);
    sim.network.conditions.loss = 0;
    await sim.run(I + 5_000, 20);
    expect(events.map((e) => e.state.status)).toEqual(['online', 'unknown', 'online']);
    watcher.stop();
  }, 60_000);

  it('a node not in an overlay leaves AORs unknown (not joined) without fetching or events', async () => {
    const sim = await startSim(2, 47);
    const idle = await sim.addNode();
    const { resolver, source } = resolverOn(sim, idle.index);
    const watcher = new PresenceWatcher({ resolver, clock: sim.clock, random: sim.random });
    const events: PresenceChange[] = [];
    watcher.onChange((c) => events.push(c));
    watcher.setAors([aor('p-x')]);
    await sim.run(2 * I, 50);
    expect(watcher.state(aor('p-x'))).toEqual({ status: 'unknown', reason: 'not joined to an overlay' });
    expect(events).toEqual([]);
    expect(source.log).toEqual([]);
    watcher.stop();
  }, 60_000);

  it('updating the set keeps watched AORs, drops removed ones and refuses GRUUs', async () => {
    const sim = await startSim(2, 53);
    const { resolver } = resolverOn(sim, 0);
    const watcher = new PresenceWatcher({ resolver, clock: sim.clock, random: sim.random });
    watcher.setAors([aor('a'), aor('b')]);
    await sim.run(I + 2_000, 50);
    expect(watcher.state(aor('a'))?.status).toBe('offline');
    watcher.setAors([aor('a'), aor('c')]);
    expect(watcher.aors().sort()).toEqual([aor('a'), aor('c')]);
    expect(watcher.state(aor('a'))?.status).toBe('offline');
    expect(watcher.state(aor('b'))).toBeUndefined();
    expect(() => watcher.setAors([gruuFor(aor('a'), toNode(sim.nodes[0]!.node.nodeId), 16)])).toThrow(
      InvalidTargetError,
    );
    watcher.stop();
    expect(watcher.aors()).toEqual([]);
  }, 60_000);
});
