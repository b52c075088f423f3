/**
 * CHORD-RELOAD on the in-memory network with a virtual clock: the real node code (transport, Attach,
 * Chord, signatures) with simulated links and time. Joins converge to a correct ring, lookups reach the
 * responsible peer, Leave and abrupt failures are repaired, and the Join rules of §6.4.2.1 hold.
 */
import { describe, expect, it } from 'vitest';
import { ErrorResponseError } from '../../../../../src-main/reload/transport';
import { OverlaySimulation } from '../../../../../src-main/reload/sim';
import {
  advertiseTurnServer,
  certificatesOfNode,
  certificatesOfUser,
  findTurnServers,
  turnResourceId,
} from '../../../../../src-main/reload/node';
import { readCertificate } from '../../../../../src-main/reload/identity';
import { ErrorCode, toHex } from '../../../../../src-main/reload/wire';
import { resourceIdFor } from '../../../../../src-main/reload/crypto';

const randomId = (sim: OverlaySimulation) => Uint8Array.from({ length: 16 }, () => Math.floor(sim.random() * 256));

describe('overlay simulation (CHORD-RELOAD on memory links)', () => {
  it('30 peers join one by one into a correct ring; lookups reach the responsible peer in few hops', async () => {
    const sim = await OverlaySimulation.create({ nodes: 30, seed: 11 });
    for (let i = 0; i < 30; i++) await sim.start(i);
    await sim.run(2_000);
    expect(sim.ringErrors()).toEqual([]);
    // Predecessors too: each peer's first predecessor is the previous Node-ID on the ring.
    const sorted = [...sim.nodes].sort((a, b) => Buffer.compare(a.node.nodeId, b.node.nodeId));
    sorted.forEach((n, i) => {
      const previous = sorted[(i + sorted.length - 1) % sorted.length]!;
      expect(toHex(n.node.table.neighbours.predecessors[0]!)).toBe(toHex(previous.node.nodeId));
    });
    const hops: number[] = [];
    for (let k = 0; k < 40; k++) {
      const id = randomId(sim);
      const from = Math.floor(sim.random() * 30);
      const { responder, hops: h } = await sim.lookup(from, id);
      expect(toHex(responder)).toBe(toHex(sim.responsibleFor(id)!.node.nodeId));
      hops.push(h);
    }
    const mean = hops.reduce((a, b) => a + b, 0) / hops.length;
    expect(mean).toBeLessThanOrEqual(0.5 * Math.log2(30) + 1);
  }, 120_000);

  it('repairs the ring after a graceful Leave and after abrupt failures', async () => {
    const sim = await OverlaySimulation.create({ nodes: 24, seed: 5, chord: { updateIntervalMs: 10_000 } });
    for (let i = 0; i < 24; i++) await sim.start(i);
    await sim.run(2_000);
    expect(sim.ringErrors()).toEqual([]);
    // A graceful Leave: neighbours learn of it at once (no waiting for a timeout).
    const leaver = sim.nodes[7]!;
    await sim.until(leaver.node.stop());
    leaver.alive = false;
    await sim.run(1_000);
    expect(sim.ringErrors()).toEqual([]);
    // 30% die abruptly (their links vanish); the survivors rebuild their successor lists.
    for (const i of [1, 4, 9, 12, 15, 18, 21]) await sim.kill(i);
    await sim.run(40_000, 20);
    expect(sim.ringErrors()).toEqual([]);
    for (let k = 0; k < 20; k++) {
      const id = randomId(sim);
      const from = sim.nodes.filter((n) => n.alive)[k % 10]!.index;
      expect(toHex((await sim.lookup(from, id)).responder)).toBe(toHex(sim.responsibleFor(id)!.node.nodeId));
    }
  }, 120_000);

  it('refuses a Join whose joining_peer_id is not its signer (Error_Forbidden)', async () => {
    const sim = await OverlaySimulation.create({ nodes: 3, seed: 2 });
    for (let i = 0; i < 3; i++) await sim.start(i);
    await sim.run(500);
    const [a, b, c] = sim.nodes as [(typeof sim.nodes)[0], (typeof sim.nodes)[0], (typeof sim.nodes)[0]];
    const failure = await sim
      .until(
        a.node.transport.request([{ type: 'node', id: b.node.nodeId }], {
          method: 'join_req',
          value: { joiningPeerId: c.node.nodeId, overlaySpecificData: new Uint8Array(0) },
        }),
      )
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ErrorResponseError);
    expect((failure as ErrorResponseError).errorCode).toBe(ErrorCode.Forbidden);
  }, 60_000);
});

describe('storage in the simulated overlay', () => {
  const CERT_BY_NODE = 0x3;

  it('a value stored from any peer is fetched from every other, and survives the death of 30% of the peers', async () => {
    const N = 24;
    const sim = await OverlaySimulation.create({
      nodes: N,
      seed: 21,
      publishCertificates: false,
      replicaHoldDownMs: 2_000,
      refreshIntervalMs: 15_000,
    });
    for (let i = 0; i < N; i++) await sim.start(i);
    await sim.run(3_000);
    expect(sim.ringErrors()).toEqual([]);
    // Each peer stores its own certificate under Resource-ID = H(Node-ID) (CERTIFICATE_BY_NODE, NODE-MATCH).
    const stored = new Map<number, { rid: Uint8Array; value: Uint8Array }>();
    for (const n of sim.nodes) {
      const rid = resourceIdFor(n.node.nodeId);
      const value = Uint8Array.from({ length: 40 }, (_, k) => (n.index * 7 + k) & 0xff);
      await sim.until(
        n.node.storage.store(CERT_BY_NODE, rid, [
          { lifetime: 3600, value: { model: 'array', index: 0, value: { exists: true, value } } },
        ]),
      );
      stored.set(n.index, { rid, value });
    }
    const fetchAll = async (readers: number[]) => {
      let ok = 0;
      for (const [owner, { rid, value }] of stored) {
        const reader = readers[(owner * 5) % readers.length]!;
        const got = await sim.until(
          sim.nodes[reader]!.node.storage.fetch(CERT_BY_NODE, rid, {
            model: 'array',
            indices: [{ first: 0, last: 0 }],
          }),
        );
        const first = got.values[0] as { value: { value: { value: Uint8Array } } } | undefined;
        if (first && Buffer.from(first.value.value.value).equals(Buffer.from(value))) ok++;
      }
      return ok;
    };
    expect(await fetchAll(sim.nodes.map((n) => n.index))).toBe(N);
    // Every value sits on its responsible peer and its two successors.
    await sim.run(3_000);
    const copies = sim.nodes.reduce((sum, n) => sum + n.node.storage.service.data.usage().entries, 0);
    expect(copies).toBe(3 * N);
    // 30% die at once. Replicas cover most values at once; a value all of whose three copies died comes back
    // when its owner refreshes it (every 15 s here). Values of dead owners may be gone: nobody refreshes them.
    const victims = [2, 5, 8, 11, 14, 17, 20];
    for (const v of victims) await sim.kill(v);
    for (const v of victims) stored.delete(v);
    await sim.run(20_000, 20);
    expect(sim.ringErrors()).toEqual([]);
    const survivors = sim.nodes.filter((n) => n.alive).map((n) => n.index);
    expect(await fetchAll(survivors)).toBe(N - victims.length);
  }, 180_000);

  it('refuses a store by the wrong peer (NODE-MATCH) and changes nothing', async () => {
    const sim = await OverlaySimulation.create({ nodes: 4, seed: 8, publishCertificates: false });
    for (let i = 0; i < 4; i++) await sim.start(i);
    await sim.run(1_000);
    const [a, b] = sim.nodes as [(typeof sim.nodes)[0], (typeof sim.nodes)[0]];
    const rid = resourceIdFor(a.node.nodeId);
    const entry = (byte: number) => ({
      lifetime: 600,
      value: { model: 'array' as const, index: 0, value: { exists: true, value: Uint8Array.of(byte) } },
    });
    await sim.until(a.node.storage.store(CERT_BY_NODE, rid, [entry(1)]));
    const failure = await sim.until(b.node.storage.store(CERT_BY_NODE, rid, [entry(2)])).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ErrorResponseError);
    expect((failure as ErrorResponseError).errorCode).toBe(ErrorCode.Forbidden);
    const got = await sim.until(
      b.node.storage.fetch(CERT_BY_NODE, rid, { model: 'array', indices: [{ first: 0, last: 0 }] }),
    );
    expect((got.values[0] as { value: { value: { value: Uint8Array } } }).value.value.value).toEqual(Uint8Array.of(1));
  }, 60_000);
});

describe('certificate and TURN usages in the simulated overlay', () => {
  it('every peer publishes its certificate by node and by user; a TURN relay advertised by one is found by another', async () => {
    const sim = await OverlaySimulation.create({ nodes: 8, seed: 31 });
    for (let i = 0; i < 8; i++) await sim.start(i);
    await sim.run(2_000);
    const [a, b] = sim.nodes as [(typeof sim.nodes)[0], (typeof sim.nodes)[0]];
    const byNode = await sim.until(certificatesOfNode(b.node.storage, a.node.nodeId));
    expect(byNode).toHaveLength(1);
    const info = readCertificate(byNode[0]!, 'sim.example.org');
    expect(toHex(info.nodeIds[0]!)).toBe(toHex(a.node.nodeId));
    const byUser = await sim.until(certificatesOfUser(b.node.storage, info.userNames[0]!, 16));
    expect(byUser[0]).toEqual(byNode[0]);

    await sim.until(advertiseTurnServer(a.node.storage, a.node.nodeId, { host: '192.0.2.7', port: 3478 }, 3));
    const found = await sim.until(findTurnServers(b.node.storage, b.node.ctx, sim.random, 40));
    expect(found.length).toBeGreaterThan(0);
    expect(found[0]!.server.serverAddress.address).toEqual(Uint8Array.of(192, 0, 2, 7));
    expect(found[0]!.server.serverAddress.port).toBe(3478);
    // Only the advertiser may write there (NODE-MULTIPLE): another peer's TURN entry at its ID is refused.
    const failure = await sim
      .until(
        b.node.storage.store(0x2, turnResourceId(a.node.nodeId, 1), [
          { lifetime: 60, value: { model: 'single', value: { exists: true, value: Uint8Array.of(1) } } },
        ]),
      )
      .catch((e: unknown) => e);
    expect((failure as ErrorResponseError).errorCode).toBe(ErrorCode.Forbidden);
  }, 60_000);
});
