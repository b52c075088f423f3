/**
 * Replication and handover helpers: export everything live in a ring arc as StoreReq-ready kind data (with
 * lifetimes reduced by the time held, certificates alongside), re-store it at another peer as a replica,
 * and drop what falls outside a range.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  certificateSigners,
  dropOutsideArc,
  exportArc,
  exportResource,
  toStoreReq,
} from '../../../../../src-main/reload/storage';
import * as W from '../../../../../src-main/reload/wire';
import { ctx, dict, entry, KIND, makeWorld, service, single, snapshot, storeReq, T0, type World } from './world';

let w: World;
let resources: Uint8Array[];
beforeAll(async () => {
  w = await makeWorld();
  resources = [w.alice.userResource, w.bob.userResource, w.carol.userResource].sort((a, b) =>
    W.toHex(a).localeCompare(W.toHex(b)),
  );
});

/** A peer holding one NOTE per user (lifetime 100 s) and Alice's SIP registration and certificate entry. */
function loaded() {
  const svc = service(w);
  for (const who of [w.alice, w.bob, w.carol]) {
    const r = who.userResource;
    svc.store(
      storeReq(r, [{ kind: KIND.NOTE, values: [single(r, KIND.NOTE, who, 'note', { lifetime: 100 })] }]),
      ctx(w, who),
      T0,
    );
  }
  const r = w.alice.userResource;
  svc.store(
    storeReq(r, [
      { kind: KIND.SIP, values: [dict(r, KIND.SIP, w.alice, w.alice.node.nodeId, 'route', { lifetime: 30 })] },
      { kind: KIND.CERT_BY_USER, values: [entry(r, KIND.CERT_BY_USER, w.alice, 1, 'c', { lifetime: 1000 })] },
    ]),
    ctx(w, w.alice),
    T0,
  );
  return svc;
}

const before = (id: Uint8Array) => {
  const out = id.slice();
  for (let i = out.length - 1; i >= 0; i--) {
    out[i] = (out[i]! - 1) & 0xff;
    if (out[i] !== 0xff) break;
  }
  return out;
};

describe('export', () => {
  it('exports the Resource-IDs of the arc (from, to], clockwise, with their generation counters', () => {
    const svc = loaded();
    const [a, b, c] = resources as [Uint8Array, Uint8Array, Uint8Array];
    expect(exportArc(svc.data, a, c, T0).map((e) => e.resourceId)).toEqual([b, c]);
    expect(exportArc(svc.data, before(a), a, T0).map((e) => e.resourceId)).toEqual([a]);
    expect(exportArc(svc.data, c, b, T0).map((e) => e.resourceId)).toEqual([a, b]);
    const alice = exportResource(svc.data, w.alice.userResource, T0)!;
    expect(alice.kindData.map((k) => [k.kind, k.generationCounter, k.values.length])).toEqual([
      [KIND.SIP, 1n, 1],
      [KIND.CERT_BY_USER, 1n, 1],
      [KIND.NOTE, 1n, 1],
    ]);
    expect(alice.certificates).toEqual([w.alice.node.certificate]);
  });

  it('lifetimes shrink by the time held; expired values are left out, and so are synthesized gaps', () => {
    const svc = loaded();
    const at = T0 + 40_500;
    const alice = exportResource(svc.data, w.alice.userResource, at)!;
    expect(alice.kindData.map((k) => k.kind)).toEqual([KIND.CERT_BY_USER, KIND.NOTE]); // SIP (30 s) expired
    const lifetimes = alice.kindData.map((k) => (k.values[0] as W.StoredData).lifetime);
    expect(lifetimes).toEqual([1000 - 41, 100 - 41]);
    // The array had only index 1 stored: index 0 is not exported.
    expect(((alice.kindData[0]!.values[0] as W.StoredData).value as { index: number }).index).toBe(1);
    expect(exportResource(svc.data, w.alice.userResource, T0 + 1_000_000)).toBeUndefined();
  });

  it('another peer takes the export as a replica store and then answers exactly the same', () => {
    const svc = loaded();
    const other = service(w);
    for (const e of exportArc(svc.data, resources[0]!, resources[0]!, T0)) {
      // The replicating peer (Carol's node here) signs the StoreReq; the certificates travel with it.
      const signers = certificateSigners(e.certificates, w.policy, T0);
      other.store(toStoreReq(e, 1), { requester: w.carol.ds, signers }, T0);
    }
    expect(snapshot(other, resources)).toBe(snapshot(svc, resources));
  });

  it('the same replica sent twice is taken without change', () => {
    const svc = loaded();
    const other = service(w);
    const exports = exportArc(svc.data, resources[0]!, resources[0]!, T0);
    const send = (e: (typeof exports)[number]) =>
      other.store(
        toStoreReq(e, 1),
        { requester: w.carol.ds, signers: certificateSigners(e.certificates, w.policy, T0) },
        T0,
      );
    for (const e of exports) send(e);
    const before = snapshot(other, resources);
    for (const e of exports) expect(() => send(e)).not.toThrow();
    expect(snapshot(other, resources)).toBe(before);
    expect(snapshot(other, resources)).toBe(before);
  });
});

describe('dropOutsideArc', () => {
  it('keeps (from, to] and removes everything else', () => {
    const svc = loaded();
    const [a, b, c] = resources as [Uint8Array, Uint8Array, Uint8Array];
    const aliceFirst = W.toHex(a) === W.toHex(w.alice.userResource);
    const expectedRemoved = aliceFirst ? 3 : 1; // Alice's resource holds three values
    expect(dropOutsideArc(svc.data, a, c)).toBe(expectedRemoved);
    expect(svc.data.resourceIds()).toEqual([b, c]);
    expect(dropOutsideArc(svc.data, a, c)).toBe(0);
  });
});
