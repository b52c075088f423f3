/**
 * A peer that leaves hands its range to its first successor (RFC 6940 §10.9 with §10.4) before sending
 * Leave: values whose replica had not reached the successor are still there after the Leave, without waiting
 * for their owners to store them again.
 */
import { describe, expect, it } from 'vitest';
import { KIND_CERTIFICATE_BY_NODE } from '../../../../../src-main/reload/node';
import { resourceIdFor } from '../../../../../src-main/reload/crypto';
import { OverlaySimulation } from '../../../../../src-main/reload/sim';
import { toHex } from '../../../../../src-main/reload/wire';

describe('handover on leave', () => {
  it('the successor receives the leaving peer’s range, including values it had no replica of', async () => {
    const N = 8;
    // Owners refresh only after an hour: whatever is fetchable below came from the handover.
    const sim = await OverlaySimulation.create({
      nodes: N,
      seed: 4,
      publishCertificates: false,
      refreshIntervalMs: 3_600_000,
      replicaHoldDownMs: 3_600_000,
    });
    for (let i = 0; i < N; i++) await sim.start(i);
    await sim.run(3_000);
    expect(sim.ringErrors()).toEqual([]);
    const values = new Map<string, Uint8Array>();
    for (const n of sim.nodes) {
      const rid = resourceIdFor(n.node.nodeId);
      const value = Uint8Array.from({ length: 32 }, (_, k) => (n.index + k) & 0xff);
      await sim.until(
        n.node.storage.store(KIND_CERTIFICATE_BY_NODE, rid, [
          { lifetime: 7200, value: { model: 'array', index: 0, value: { exists: true, value } } },
        ]),
      );
      values.set(toHex(rid), value);
    }
    await sim.run(1_000);
    // The leaver: a peer responsible for at least one value. Its successor loses its replicas of them (as if
    // replication had failed), and so does the one after (the second replica).
    const leaver = sim.nodes.find((n) =>
      [...values.keys()].some(
        (rid) => toHex(sim.responsibleFor(Buffer.from(rid, 'hex'))!.node.nodeId) === toHex(n.node.nodeId),
      ),
    )!;
    const mine = [...values.keys()].filter(
      (rid) => toHex(sim.responsibleFor(Buffer.from(rid, 'hex'))!.node.nodeId) === toHex(leaver.node.nodeId),
    );
    const [s1, s2] = leaver.node.table.neighbours.successors.map((id) =>
      sim.nodes.find((n) => toHex(n.node.nodeId) === toHex(id))!,
    );
    for (const rid of mine)
      for (const s of [s1!, s2!]) s.node.storage.service.data.delete(Buffer.from(rid, 'hex'), KIND_CERTIFICATE_BY_NODE);

    await sim.until(leaver.node.stop());
    leaver.alive = false;
    await sim.run(2_000);
    expect(sim.ringErrors()).toEqual([]);
    const reader = sim.nodes.find((n) => n.alive)!;
    for (const rid of mine) {
      const got = await sim.until(
        reader.node.storage.fetch(KIND_CERTIFICATE_BY_NODE, Buffer.from(rid, 'hex'), {
          model: 'array',
          indices: [{ first: 0, last: 0 }],
        }),
      );
      const first = got.values[0] as { value: { value: { value: Uint8Array } } } | undefined;
      expect(first && Buffer.from(first.value.value.value).toString('hex')).toBe(
        Buffer.from(values.get(rid)!).toString('hex'),
      );
    }
    expect(mine.length).toBeGreaterThan(0);
    expect(leaver.node.status().storage.handovers).toBeGreaterThanOrEqual(mine.length);
  });
});
