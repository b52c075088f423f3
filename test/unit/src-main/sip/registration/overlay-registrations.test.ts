/**
 * OverlayRegistrations on the in-memory overlay (virtual clock): what a node's local UAs register ends up as
 * its SIP-REGISTRATION dictionary entry at H(AOR), readable by every other node's wildcard Fetch; refreshed,
 * removed, shared by local bindings, side by side with another device's entry; forwarding records; the local
 * refusals (AOR, domain restriction) before any Store.
 */
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../../../src-main/common/logger';
import { defaultKinds } from '../../../../../src-main/reload/config';
import { resourceIdFor } from '../../../../../src-main/reload/crypto';
import { OverlaySimulation, type SimNode } from '../../../../../src-main/reload/sim';
import type { StorageKind } from '../../../../../src-main/reload/storage';
import { isOpaqueStoredData, toHex, type StoredData } from '../../../../../src-main/reload/wire';
import { decodeSipRegistration, SIP_REGISTRATION_KIND } from '../../../../../src-main/sip/sip-registration';
import {
  AorNotAllowedError,
  AorSyntaxError,
  DomainRestrictedError,
  RegistrationArgumentError,
  RegistrationsStoppedError,
  RegistrationStoreError,
  RegistrationTooLargeError,
  TooManyBindingsError,
} from '../../../../../src-main/sip/registration/errors';
import { OverlayRegistrations } from '../../../../../src-main/sip/registration/overlay-registrations';

const OVERLAY = 'sim.example.org';
const log = createLogger({ level: 'error' });

function service(
  sim: OverlaySimulation,
  n: SimNode,
  extra: Partial<ConstructorParameters<typeof OverlayRegistrations>[0]> = {},
) {
  return new OverlayRegistrations({ node: n.node, overlayName: OVERLAY, clock: sim.clock, log, ...extra });
}

/** Every dictionary entry at H(aor) as `reader` fetches it (wildcard), by key, with its value decoded. */
async function entries(sim: OverlaySimulation, reader: SimNode, aor: string) {
  const rid = resourceIdFor(aor);
  const got = await sim.until(reader.node.storage.fetch(SIP_REGISTRATION_KIND, rid, { model: 'dictionary', keys: [] }));
  const out = new Map<string, { exists: boolean; data: StoredData; reg?: ReturnType<typeof decodeSipRegistration> }>();
  for (const v of got.values) {
    if (isOpaqueStoredData(v) || v.value.model !== 'dictionary') throw new Error('unexpected value shape');
    const exists = v.value.value.exists;
    out.set(toHex(v.value.key), {
      exists,
      data: v,
      ...(exists ? { reg: decodeSipRegistration(v.value.value.value, reader.node.ctx) } : {}),
    });
  }
  return out;
}

const live = (m: Awaited<ReturnType<typeof entries>>) => [...m].filter(([, e]) => e.exists).map(([k]) => k);

async function overlay(options: { kinds?: StorageKind[]; users?: string[]; seed?: number } = {}) {
  const sim = await OverlaySimulation.create({
    nodes: 5,
    seed: options.seed ?? 3,
    publishCertificates: false,
    ...(options.kinds ? { kinds: options.kinds } : {}),
  });
  const users: SimNode[] = [];
  for (const user of options.users ?? []) users.push(await sim.addNode({ userName: user }));
  for (let i = 0; i < sim.nodes.length; i++) await sim.start(i);
  await sim.run(3_000);
  expect(sim.ringErrors()).toEqual([]);
  return { sim, users };
}

describe('OverlayRegistrations (SIP-REGISTRATION records in the overlay)', () => {
  it('register stores a route record other nodes fetch; refresh keeps it past its first lifetime; unregister removes it', async () => {
    const { sim } = await overlay();
    const [a, , , , e] = sim.nodes as SimNode[];
    const regs = service(sim, a!, { maxRecordLifetimeSec: 60 });
    const aor = `sim0@${OVERLAY}`;
    expect(regs.aor).toBe(aor);
    expect(regs.canRegister(aor)).toBe(true);
    expect(regs.canRegister(`sip:${aor}`)).toBe(true);
    expect(regs.canRegister(`sim1@${OVERLAY}`)).toBe(false);

    await sim.until(regs.register(aor, { bindingId: 'ua-1', expiresSec: 300, contactPrefs: '(sip.schemes=SIPS)' }));
    let seen = await entries(sim, e!, aor);
    const key = toHex(a!.node.nodeId);
    expect(live(seen)).toEqual([key]);
    const first = seen.get(key)!;
    expect(first.data.lifetime).toBeGreaterThanOrEqual(59); // Fetch gives the remaining lifetime
    expect(first.data.lifetime).toBeLessThanOrEqual(60);
    expect(first.reg).toEqual({
      type: 'route',
      contactPrefs: new TextEncoder().encode('(sip.schemes=SIPS)'),
      destinations: [{ type: 'node', id: a!.node.nodeId }],
    });

    // 100 s later (past the first 60 s lifetime) the record is there with a later storage_time.
    await sim.run(100_000, 50);
    seen = await entries(sim, e!, aor);
    expect(live(seen)).toEqual([key]);
    expect(seen.get(key)!.data.storageTime).toBeGreaterThan(first.data.storageTime);
    const status = regs.status();
    expect(status).toHaveLength(1);
    expect(status[0]).toMatchObject({
      aor,
      record: 'route',
      failureCount: 0,
      lastStore: { ok: true, record: 'route' },
    });
    expect(status[0]!.stores).toBeGreaterThanOrEqual(2);
    expect(status[0]!.generation).toBeDefined();
    expect(status[0]!.bindings).toEqual([{ bindingId: 'ua-1', contactPrefs: '(sip.schemes=SIPS)', expiresInSec: 200 }]);

    await sim.until(regs.unregister(aor, 'ua-1'));
    seen = await entries(sim, e!, aor);
    expect(live(seen)).toEqual([]);
    // The tombstone (exists=false) outlives the value it deletes (RFC 6940 §7.4.1.3).
    const tomb = seen.get(key);
    if (tomb) expect(tomb.data.lifetime).toBeGreaterThanOrEqual(59);
    expect(regs.status()).toEqual([]);
  }, 120_000);

  it('a binding expiring removes the record; local bindings share one entry that lives as long as the longest', async () => {
    const { sim } = await overlay({ seed: 4 });
    const [a, b] = sim.nodes as SimNode[];
    const regs = service(sim, a!);
    const aor = `sim0@${OVERLAY}`;
    const key = toHex(a!.node.nodeId);
    await sim.until(regs.register(aor, { bindingId: 'phone', expiresSec: 30, contactPrefs: '(sip.schemes=SIPS)' }));
    await sim.until(regs.register(aor, { bindingId: 'softphone', expiresSec: 90, contactPrefs: '(sip.audio=TRUE)' }));
    let seen = await entries(sim, b!, aor);
    expect(live(seen)).toEqual([key]);
    expect(seen.get(key)!.data.lifetime).toBeGreaterThanOrEqual(89);
    expect(seen.get(key)!.data.lifetime).toBeLessThanOrEqual(90);
    expect(new TextDecoder().decode((seen.get(key)!.reg as { contactPrefs: Uint8Array }).contactPrefs)).toBe(
      '(|(sip.audio=TRUE)(sip.schemes=SIPS))',
    );
    // The first binding expires: the entry stays, now with the remaining binding's prefs.
    await sim.run(40_000, 50);
    seen = await entries(sim, b!, aor);
    expect(live(seen)).toEqual([key]);
    expect(new TextDecoder().decode((seen.get(key)!.reg as { contactPrefs: Uint8Array }).contactPrefs)).toBe(
      '(sip.audio=TRUE)',
    );
    expect(regs.status()[0]!.bindings.map((x) => x.bindingId)).toEqual(['softphone']);
    // The last one expires: the entry is deleted (exists=false), not left to run out.
    await sim.run(55_000, 50);
    seen = await entries(sim, b!, aor);
    expect(live(seen)).toEqual([]);
    expect(seen.get(key)?.exists).toBe(false);
    expect(regs.status()).toEqual([]);
  }, 120_000);

  it('the same AOR from two devices leaves both entries; stop() removes only its own', async () => {
    const alice = `alice@${OVERLAY}`;
    const { sim, users } = await overlay({ users: [alice, alice], seed: 5 });
    const [desk, cell] = users as [SimNode, SimNode];
    const reader = sim.nodes[0]!;
    const deskRegs = service(sim, desk);
    const cellRegs = service(sim, cell);
    await sim.until(deskRegs.register(alice, { bindingId: 'desk', expiresSec: 600, contactPrefs: '' }));
    await sim.until(cellRegs.register(`sips:${alice}`, { bindingId: 'cell', expiresSec: 600, contactPrefs: '' }));
    let seen = await entries(sim, reader, alice);
    expect(live(seen).sort()).toEqual([toHex(desk.node.nodeId), toHex(cell.node.nodeId)].sort());
    for (const device of [desk, cell])
      expect(seen.get(toHex(device.node.nodeId))!.reg).toMatchObject({
        type: 'route',
        destinations: [{ type: 'node', id: device.node.nodeId }],
      });

    expect(await sim.until(deskRegs.stop())).toBe(1);
    seen = await entries(sim, reader, alice);
    expect(live(seen)).toEqual([toHex(cell.node.nodeId)]);
    await expect(
      deskRegs.register(alice, { bindingId: 'desk', expiresSec: 60, contactPrefs: '' }),
    ).rejects.toBeInstanceOf(RegistrationsStoppedError);
    await sim.until(cellRegs.stop());
    expect(live(await entries(sim, reader, alice))).toEqual([]);
  }, 120_000);

  it('a forwarding record (AOR to AOR) is stored, read, refreshed and cleared back to the route', async () => {
    const { sim } = await overlay({ seed: 6 });
    const [a, b] = sim.nodes as SimNode[];
    const regs = service(sim, a!, { forwardingLifetimeSec: 30 });
    const aor = `sim0@${OVERLAY}`;
    const key = toHex(a!.node.nodeId);
    await sim.until(regs.register(aor, { bindingId: 'ua', expiresSec: 600, contactPrefs: '' }));
    await sim.until(regs.setForwarding(aor, `sip:sim0-laptop@${OVERLAY}`));
    let seen = await entries(sim, b!, aor);
    expect(seen.get(key)!.reg).toEqual({ type: 'uri', uri: new TextEncoder().encode(`sim0-laptop@${OVERLAY}`) });
    expect(regs.status()[0]).toMatchObject({ record: 'uri', forwardingTo: `sim0-laptop@${OVERLAY}` });
    await sim.run(50_000, 50); // past the 30 s forwarding lifetime: refreshed at 20 s
    seen = await entries(sim, b!, aor);
    expect(seen.get(key)!.reg?.type).toBe('uri');
    await sim.until(regs.setForwarding(aor, undefined));
    seen = await entries(sim, b!, aor);
    expect(seen.get(key)!.reg?.type).toBe('route');
    // Forwarding only for our own AOR, refused before any Store.
    const stores = regs.status()[0]!.stores;
    await expect(regs.setForwarding(`sim1@${OVERLAY}`, aor)).rejects.toBeInstanceOf(AorNotAllowedError);
    await expect(regs.setForwarding(aor, aor)).rejects.toBeInstanceOf(RegistrationArgumentError);
    expect(regs.status()[0]!.stores).toBe(stores);
  }, 120_000);

  it('refuses, before any Store, AORs not ours, bad arguments, and domains the restriction excludes', async () => {
    const sipKind = defaultKinds()[0]!;
    const restricted: StorageKind[] = [
      { ...sipKind, sipDomainRestriction: { enabled: true, patterns: ['dht\\.example\\.com', '.*\\.my\\.example'] } },
      ...(defaultKinds().slice(1) as StorageKind[]),
    ];
    const { sim, users } = await overlay({ kinds: restricted, users: [`carol@lab.my.example`], seed: 7 });
    const [a, b] = sim.nodes as SimNode[];
    const carol = users[0]!;
    const regs = service(sim, a!);
    const aor = `sim0@${OVERLAY}`;
    const before = a!.node.status().transport;
    await expect(regs.register(aor, { bindingId: 'x', expiresSec: 60, contactPrefs: '' })).rejects.toBeInstanceOf(
      DomainRestrictedError,
    );
    await expect(regs.setForwarding(aor, `carol@lab.my.example`)).rejects.toBeInstanceOf(DomainRestrictedError);
    await expect(
      regs.register(`bob@${OVERLAY}`, { bindingId: 'x', expiresSec: 60, contactPrefs: '' }),
    ).rejects.toBeInstanceOf(AorNotAllowedError);
    await expect(
      regs.register('no-at-sign', { bindingId: 'x', expiresSec: 60, contactPrefs: '' }),
    ).rejects.toBeInstanceOf(AorSyntaxError);
    expect(regs.status()).toEqual([]);
    expect(a!.node.status().transport).toEqual(before);

    // A domain matching a pattern registers; the storing peer applies the same rule.
    const carolRegs = service(sim, carol);
    await sim.until(carolRegs.register('carol@lab.my.example', { bindingId: 'c', expiresSec: 60, contactPrefs: '' }));
    expect(live(await entries(sim, b!, 'carol@lab.my.example'))).toEqual([toHex(carol.node.nodeId)]);

    // enable=false: only the overlay's own domain.
    const own: StorageKind[] = [
      { ...sipKind, sipDomainRestriction: { enabled: false, patterns: [] } },
      ...(defaultKinds().slice(1) as StorageKind[]),
    ];
    for (const n of sim.nodes) n.node.storage.service.setKinds(own);
    await sim.until(regs.register(aor, { bindingId: 'x', expiresSec: 60, contactPrefs: '' }));
    await expect(
      carolRegs.register('carol@lab.my.example', { bindingId: 'c', expiresSec: 60, contactPrefs: '' }),
    ).rejects.toBeInstanceOf(DomainRestrictedError);
  }, 120_000);

  it('checks arguments: expiry range, binding id, binding count, value size; Expires 0 unregisters', async () => {
    const { sim } = await overlay({ seed: 8 });
    const [a, b] = sim.nodes as SimNode[];
    const regs = service(sim, a!, { maxBindings: 2, maxExpiresSec: 3600 });
    const aor = `sim0@${OVERLAY}`;
    const bad = [
      [{ bindingId: '', expiresSec: 60, contactPrefs: '' }, 'bindingId'],
      [{ bindingId: 'x'.repeat(257), expiresSec: 60, contactPrefs: '' }, 'bindingId'],
      [{ bindingId: 'x', expiresSec: 3601, contactPrefs: '' }, 'expiresSec'],
      [{ bindingId: 'x', expiresSec: -1, contactPrefs: '' }, 'expiresSec'],
      [{ bindingId: 'x', expiresSec: 1.5, contactPrefs: '' }, 'expiresSec'],
      [{ bindingId: 'x', expiresSec: 60, contactPrefs: 'é' }, 'contactPrefs'],
    ] as const;
    for (const [input, field] of bad) await expect(regs.register(aor, input)).rejects.toMatchObject({ field });
    await sim.until(regs.register(aor, { bindingId: '1', expiresSec: 60, contactPrefs: '(sip.audio=TRUE)' }));
    await sim.until(regs.register(aor, { bindingId: '2', expiresSec: 60, contactPrefs: '(sip.video=TRUE)' }));
    await expect(regs.register(aor, { bindingId: '3', expiresSec: 60, contactPrefs: '' })).rejects.toBeInstanceOf(
      TooManyBindingsError,
    );
    // Two bindings of 500 bytes of prefs make a value over the Kind's max-size (1000).
    const big = `(sip.description="${'d'.repeat(470)}")`;
    await sim.until(regs.register(aor, { bindingId: '1', expiresSec: 60, contactPrefs: big }));
    await expect(
      regs.register(aor, { bindingId: '2', expiresSec: 60, contactPrefs: big.replace('"d', '"e') }),
    ).rejects.toBeInstanceOf(RegistrationTooLargeError);
    await sim.until(regs.register(aor, { bindingId: '1', expiresSec: 0, contactPrefs: '' }));
    await sim.until(regs.register(aor, { bindingId: '2', expiresSec: 0, contactPrefs: '' }));
    expect(live(await entries(sim, b!, aor))).toEqual([]);
    expect(regs.status()).toEqual([]);
    // A refused first registration leaves no AOR behind (the Kind's max-size shrunk to 30 bytes here).
    a!.node.storage.service.setKinds([
      { ...defaultKinds()[0]!, maxSize: 30 },
      ...(defaultKinds().slice(1) as StorageKind[]),
    ]);
    await expect(
      regs.register(aor, { bindingId: '1', expiresSec: 60, contactPrefs: '(sip.audio=TRUE)' }),
    ).rejects.toBeInstanceOf(RegistrationTooLargeError);
    expect(regs.status()).toEqual([]);
  }, 120_000);

  it('a failed Store rolls the binding back, is reported in status and retried until the overlay matches', async () => {
    const { sim } = await overlay({ seed: 9 });
    // A node that is not itself responsible for its AOR (its own store would not go over the network).
    const a = sim.nodes.find((n) => sim.responsibleFor(resourceIdFor(`sim${n.index}@${OVERLAY}`)) !== n)!;
    const b = sim.nodes.find((n) => n !== a)!;
    const regs = service(sim, a, { retryMinMs: 2_000 });
    const aor = `sim${a.index}@${OVERLAY}`;
    // The SIP-REGISTRATION Kind vanishes from every other peer (as after a ConfigUpdate): Stores are refused.
    const others = sim.nodes.filter((n) => n !== a);
    for (const n of others) n.node.storage.service.setKinds(defaultKinds().slice(1) as StorageKind[]);
    const failure = await sim
      .until(regs.register(aor, { bindingId: 'ua', expiresSec: 120, contactPrefs: '' }))
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(RegistrationStoreError);
    const status = regs.status()[0]!;
    expect(status.bindings).toEqual([]);
    expect(status.failureCount).toBe(1);
    expect(status.lastStore).toMatchObject({ ok: false, record: 'route' });
    expect(status.failures[0]!.reason).toMatch(/ErrorResponseError/);
    // The Kind comes back: the retry (exists=false for the rolled-back binding) succeeds and the AOR is done.
    for (const n of others) n.node.storage.service.setKinds(defaultKinds() as StorageKind[]);
    await sim.run(20_000, 50);
    expect(regs.status()).toEqual([]);
    expect(live(await entries(sim, b, aor))).toEqual([]);
  }, 120_000);
  it('publishes the destination list given (a client behind its attached peer); stop() keeps to its time budget', async () => {
    const { sim } = await overlay({ seed: 10 });
    const a = sim.nodes.find((n) => sim.responsibleFor(resourceIdFor(`sim${n.index}@${OVERLAY}`)) !== n)!;
    const via = sim.nodes.find((n) => n !== a)!;
    const path = [
      { type: 'node' as const, id: via.node.nodeId },
      { type: 'node' as const, id: a.node.nodeId },
    ];
    const regs = service(sim, a, { destinationList: () => path });
    const aor = `sim${a.index}@${OVERLAY}`;
    await sim.until(regs.register(aor, { bindingId: 'ua', expiresSec: 600, contactPrefs: '' }));
    const seen = await entries(sim, via, aor);
    expect(seen.get(toHex(a.node.nodeId))!.reg).toMatchObject({ type: 'route', destinations: path });
    const empty = service(sim, a, { destinationList: () => [] });
    await expect(empty.register(aor, { bindingId: 'ua', expiresSec: 60, contactPrefs: '' })).rejects.toMatchObject({
      field: 'destinationList',
    });
    // The network drops everything: the removal cannot be confirmed, and stop() gives up after its budget.
    sim.network.conditions.loss = 1;
    const started = sim.clock.now();
    expect(await sim.until(regs.stop(1_000))).toBe(0);
    expect(sim.clock.now() - started).toBeLessThanOrEqual(1_100);
  }, 120_000);
});
