/**
 * RFC 6940 §7.4 (checklist D7): a peer that re-stores data and is refused with Error_Data_Too_Old fetches the
 * newer copy from the peer that complained and replaces its own.
 */
import { describe, expect, it } from 'vitest';
import { resourceIdFor } from '../../../../../src-main/reload/crypto';
import { KIND_CERTIFICATE_BY_NODE } from '../../../../../src-main/reload/node';
import { OverlaySimulation } from '../../../../../src-main/reload/sim';
import { certificateSigners, exportResource, toStoreReq } from '../../../../../src-main/reload/storage';
import { toHex } from '../../../../../src-main/reload/wire';

const valueAt = (sim: OverlaySimulation, index: number, rid: Uint8Array) => {
  const record = sim.nodes[index]!.node.storage.service.data.get(rid, KIND_CERTIFICATE_BY_NODE);
  const v = [...(record?.values.values() ?? [])][0]?.data.value;
  return v && v.model === 'array' && v.value.exists ? Buffer.from(v.value.value).toString() : undefined;
};

describe('adopting a newer copy', () => {
  it('the responsible peer, refused as too old by its replica, takes the replica’s newer value', async () => {
    const sim = await OverlaySimulation.create({ nodes: 6, seed: 9, publishCertificates: false });
    for (let i = 0; i < 6; i++) await sim.start(i);
    await sim.run(3_000);
    expect(sim.ringErrors()).toEqual([]);
    const owner = sim.nodes[0]!;
    const rid = resourceIdFor(owner.node.nodeId);
    const R = sim.responsibleFor(rid)!;
    const store = (text: string) =>
      sim.until(
        owner.node.storage.store(KIND_CERTIFICATE_BY_NODE, rid, [
          { lifetime: 3600, value: { model: 'array', index: 0, value: { exists: true, value: Buffer.from(text) } } },
        ]),
      );
    await store('old');
    await sim.run(500);
    const old = exportResource(R.node.storage.service.data, rid, sim.epoch + sim.clock.now())!;
    await store('new');
    await sim.run(500);
    const s1 = sim.nodes.find((n) => toHex(n.node.nodeId) === toHex(R.node.table.neighbours.successors[0]!))!;
    expect(valueAt(sim, s1.index, rid)).toBe('new');

    // The responsible peer loses the newer value and holds the old one again (as after a partition).
    R.node.storage.service.data.delete(rid, KIND_CERTIFICATE_BY_NODE);
    const now = sim.epoch + sim.clock.now();
    R.node.storage.service.store(
      toStoreReq(old, 1),
      {
        requester: { identity: sim.policy.validate(R.node.certificate), nodeId: R.node.nodeId },
        signers: certificateSigners(old.certificates, sim.policy, now),
      },
      now,
    );
    expect(valueAt(sim, R.index, rid)).toBe('old');

    // Its replication reaches the successor, which answers Error_Data_Too_Old: R fetches and adopts 'new'.
    await sim.until(R.node.storage.replicateRange());
    await sim.run(500);
    expect(valueAt(sim, R.index, rid)).toBe('new');
    expect(R.node.status().storage.newerCopiesAdopted).toBe(1);
    expect(valueAt(sim, s1.index, rid)).toBe('new');
  });
});
