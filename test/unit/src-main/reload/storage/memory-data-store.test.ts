/**
 * MemoryDataStore: byte and entry accounting, the memory bound (growth beyond it refused with
 * Error_Data_Too_Large, nothing changed; shrinking always allowed), Resource-IDs in ring arcs.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  MemoryDataStore,
  StorageFullError,
  storedDataLength,
  type KindRecord,
  type StoredValue,
} from '../../../../../src-main/reload/storage';
import * as W from '../../../../../src-main/reload/wire';
import { ctx, entry, KIND, makeWorld, refused, service, single, snapshot, storeReq, T0, type World } from './world';

let w: World;
beforeAll(async () => {
  w = await makeWorld();
});

function id(...head: number[]): Uint8Array {
  const out = new Uint8Array(16);
  out.set(head);
  return out;
}

function record(resourceId: Uint8Array, kind: number, sizes: number[]): KindRecord {
  const values = new Map<string, StoredValue>();
  sizes.forEach((size, i) => {
    const data: W.StoredData = {
      storageTime: 1n,
      lifetime: 60,
      value: { model: 'array', index: i, value: { exists: true, value: new Uint8Array(0) } },
      signature: W.NO_SIGNATURE,
    };
    values.set(`i${i}`, { data, storedAt: 0, expiresAt: 60_000, certificate: new Uint8Array(0), size });
  });
  return { resourceId, kind, model: 'array', generation: 1n, values };
}

describe('accounting', () => {
  it('a value accounts for its encoded StoredData plus its certificate', () => {
    const svc = service(w);
    const r = w.alice.userResource;
    const value = single(r, KIND.NOTE, w.alice, 'twelve bytes');
    expect(storedDataLength(value)).toBe(W.encodeWith(W.writeStoredData, value).length);
    svc.store(storeReq(r, [{ kind: KIND.NOTE, values: [value] }]), ctx(w, w.alice), T0);
    expect(svc.data.usage()).toEqual({
      bytes: storedDataLength(value) + w.alice.node.certificate.length,
      entries: 1,
      records: 1,
      resources: 1,
    });
  });

  it('put, get, kindsAt, delete', () => {
    const store = new MemoryDataStore();
    store.put(record(id(1), 5, [10, 20]));
    store.put(record(id(1), 3, [5]));
    store.put(record(id(2), 5, [1]));
    expect(store.kindsAt(id(1)).map((r) => r.kind)).toEqual([3, 5]);
    expect(store.get(id(1), 5)?.values.size).toBe(2);
    expect(store.usage()).toEqual({ bytes: 36, entries: 4, records: 3, resources: 2 });
    expect(store.delete(id(1), 5)).toBe(2);
    expect(store.delete(id(9))).toBe(0);
    expect(store.usage()).toEqual({ bytes: 6, entries: 2, records: 2, resources: 2 });
    expect(store.delete(id(1))).toBe(1);
    // A record without values removes it.
    store.put(record(id(2), 5, []));
    expect(store.usage()).toEqual({ bytes: 0, entries: 0, records: 0, resources: 0 });
    expect(store.resourceIds()).toEqual([]);
  });
});

describe('the memory bound', () => {
  it('refuses growth beyond maxBytes with StorageFullError (Error_Data_Too_Large), changing nothing', () => {
    const store = new MemoryDataStore({ maxBytes: 100, maxEntries: 1000 });
    store.put(record(id(1), 1, [60]));
    const e = refused(
      () => store.commit([record(id(2), 1, [30]), record(id(3), 1, [11])]),
      StorageFullError,
      W.ErrorCode.Data_Too_Large,
    );
    expect([e.limit, e.wouldHold, e.max]).toEqual(['bytes', 101, 100]);
    expect(store.usage()).toEqual({ bytes: 60, entries: 1, records: 1, resources: 1 });
    expect(store.get(id(2), 1)).toBeUndefined();
    // Exactly at the bound is fine; replacing a record counts only the difference.
    store.commit([record(id(2), 1, [30]), record(id(3), 1, [10])]);
    store.put(record(id(1), 1, [50, 10]));
    expect(store.usage().bytes).toBe(100);
  });

  it('refuses growth beyond maxEntries; changes that shrink pass even over the bound', () => {
    const store = new MemoryDataStore({ maxBytes: 1_000_000, maxEntries: 3 });
    store.put(record(id(1), 1, [1, 1, 1]));
    const e = refused(() => store.put(record(id(2), 1, [1])), StorageFullError, W.ErrorCode.Data_Too_Large);
    expect(e.limit).toBe('entries');
    const tight = new MemoryDataStore({ maxBytes: 10, maxEntries: 10 });
    tight.put(record(id(1), 1, [10]));
    // A bigger record elsewhere and a smaller one here: the total does not grow.
    tight.commit([record(id(1), 1, [2]), record(id(2), 1, [8])]);
    expect(tight.usage().bytes).toBe(10);
  });

  it('through StorageService: a store refused by the bound leaves everything as it was', () => {
    const store = new MemoryDataStore({ maxBytes: 2 * w.alice.node.certificate.length + 300, maxEntries: 100 });
    const svc = service(w, { store });
    const r = w.alice.userResource;
    svc.store(storeReq(r, [{ kind: KIND.NOTE, values: [single(r, KIND.NOTE, w.alice, 'a')] }]), ctx(w, w.alice), T0);
    const before = snapshot(svc, [r, w.bob.userResource]);
    const e = refused(
      () =>
        svc.store(
          storeReq(w.bob.userResource, [
            { kind: KIND.NOTE, values: [single(w.bob.userResource, KIND.NOTE, w.bob, new Uint8Array(64))] },
            {
              kind: KIND.CERT_BY_USER,
              values: [0, 1].map((i) => entry(w.bob.userResource, KIND.CERT_BY_USER, w.bob, i, new Uint8Array(200))),
            },
          ]),
          ctx(w, w.bob),
          T0,
        ),
      StorageFullError,
      W.ErrorCode.Data_Too_Large,
    );
    expect(e.message).toMatch(/storage full/);
    expect(snapshot(svc, [r, w.bob.userResource])).toBe(before);
    // A smaller store still fits.
    svc.store(
      storeReq(w.bob.userResource, [{ kind: KIND.NOTE, values: [single(w.bob.userResource, KIND.NOTE, w.bob, 'b')] }]),
      ctx(w, w.bob),
      T0,
    );
    expect(store.usage().entries).toBe(2);
  });
});

describe('ring arcs', () => {
  it('(from, to] clockwise from `from`, wrapping past zero; the whole ring when from == to', () => {
    const store = new MemoryDataStore();
    for (const head of [0x00, 0x10, 0x20, 0x80, 0xf0]) store.put(record(id(head), 1, [1]));
    const heads = (ids: Uint8Array[]) => ids.map((x) => x[0]);
    expect(heads(store.resourceIdsInArc(id(0x10), id(0x80)))).toEqual([0x20, 0x80]);
    expect(heads(store.resourceIdsInArc(id(0x80), id(0x10)))).toEqual([0xf0, 0x00, 0x10]);
    expect(heads(store.resourceIdsInArc(id(0x20), id(0x20)))).toEqual([0x80, 0xf0, 0x00, 0x10, 0x20]);
    expect(heads(store.resourceIdsInArc(id(0x11), id(0x1f)))).toEqual([]);
    expect(heads(store.resourceIds())).toEqual([0x00, 0x10, 0x20, 0x80, 0xf0]);
    expect(() => store.resourceIdsInArc(id(1), new Uint8Array(20))).toThrow(RangeError);
  });
});
