/**
 * Lifetimes and removal (RFC 6940 §7.2, §7.4.1.3): values vanish when their lifetime (counted from when the
 * StoreReq arrived) ends, or when their signer's certificate does; purge() frees them; a Fetch reports the
 * lifetime left; deletion is a stored exists = false value that overwrites, is returned and expires.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ARRAY_LAST, DataTooOldError } from '../../../../../src-main/reload/storage';
import * as W from '../../../../../src-main/reload/wire';
import {
  ctx,
  dict,
  entry,
  everything,
  KIND,
  makeWorld,
  refused,
  service,
  single,
  storeReq,
  T0,
  type World,
} from './world';

let w: World;
beforeAll(async () => {
  w = await makeWorld();
});

const values = (svc: ReturnType<typeof service>, r: Uint8Array, kind: number, now: number) =>
  svc.fetch({ resource: r, specifiers: [everything(kind)] }, now).answer.kindResponses[0]!.values as W.StoredData[];

describe('lifetimes', () => {
  it('a value is returned until its lifetime ends, from the moment it was stored, then not', () => {
    const svc = service(w);
    const r = w.alice.userResource;
    const storedAt = T0 + 5_000;
    svc.store(
      storeReq(r, [{ kind: KIND.NOTE, values: [single(r, KIND.NOTE, w.alice, 'x', { lifetime: 60 })] }]),
      ctx(w, w.alice),
      storedAt,
    );
    expect(values(svc, r, KIND.NOTE, storedAt)[0]!.lifetime).toBe(60);
    expect(values(svc, r, KIND.NOTE, storedAt + 20_400)[0]!.lifetime).toBe(39);
    expect(values(svc, r, KIND.NOTE, storedAt + 59_999)).toHaveLength(1);
    expect(values(svc, r, KIND.NOTE, storedAt + 60_000)).toHaveLength(0);
  });

  it('purge(now) frees expired values and empty records; the accounting follows', () => {
    const svc = service(w);
    const r = w.alice.userResource;
    const k = KIND.CERT_BY_USER;
    svc.store(
      storeReq(r, [
        {
          kind: k,
          values: [
            entry(r, k, w.alice, 0, 'short', { lifetime: 10 }),
            entry(r, k, w.alice, 1, 'long', { lifetime: 100 }),
          ],
        },
        { kind: KIND.NOTE, values: [single(r, KIND.NOTE, w.alice, 'n', { lifetime: 10 })] },
      ]),
      ctx(w, w.alice),
      T0,
    );
    const full = svc.data.usage();
    expect(full).toMatchObject({ entries: 3, records: 2, resources: 1 });
    expect(svc.purge(T0 + 9_999)).toBe(0);
    expect(svc.purge(T0 + 10_000)).toBe(2);
    const after = svc.data.usage();
    expect(after).toMatchObject({ entries: 1, records: 1, resources: 1 });
    expect(after.bytes).toBeLessThan(full.bytes);
    // The expired index is a gap now.
    const arr = values(svc, r, k, T0 + 10_000);
    expect(arr.map((v) => v.value.value.exists)).toEqual([false, true]);
    expect(svc.purge(T0 + 100_000)).toBe(1);
    expect(svc.data.usage()).toEqual({ bytes: 0, entries: 0, records: 0, resources: 0 });
    // With the record gone, the generation counter starts over.
    const again = svc.store(
      storeReq(r, [{ kind: k, values: [entry(r, k, w.alice, ARRAY_LAST, 'new')] }]),
      ctx(w, w.alice),
      T0 + 100_000,
    );
    expect(again.answer.kindResponses[0]!.generationCounter).toBe(1n);
    expect((values(svc, r, k, T0 + 100_000)[0]!.value as { index: number }).index).toBe(0);
  });

  it('a value is no longer valid once its signer’s certificate expires, even within its lifetime', () => {
    const svc = service(w);
    const r = w.alice.userResource;
    const notAfter = w.alice.node.identity.certificate.notAfter.getTime();
    const now = notAfter - 30_000;
    svc.store(
      storeReq(r, [{ kind: KIND.NOTE, values: [single(r, KIND.NOTE, w.alice, 'x', { lifetime: 3600 })] }]),
      ctx(w, w.alice, now),
      now,
    );
    expect(values(svc, r, KIND.NOTE, now)[0]!.lifetime).toBe(30);
    expect(values(svc, r, KIND.NOTE, notAfter)).toHaveLength(0);
    expect(svc.purge(notAfter)).toBe(1);
  });
});

describe('removal (exists = false)', () => {
  it('overwrites the value, is returned signed by its owner, and expires like any value', () => {
    const svc = service(w);
    const r = w.alice.userResource;
    const key = w.alice.node.nodeId;
    const original = dict(r, KIND.SIP, w.alice, key, 'route', { lifetime: 60 });
    svc.store(storeReq(r, [{ kind: KIND.SIP, values: [original] }]), ctx(w, w.alice), T0);
    const removal = dict(r, KIND.SIP, w.alice, key, '', { exists: false, lifetime: 120 });
    svc.store(storeReq(r, [{ kind: KIND.SIP, values: [removal] }]), ctx(w, w.alice), T0 + 1_000);
    const got = values(svc, r, KIND.SIP, T0 + 1_000);
    expect(got).toHaveLength(1);
    expect(got[0]!.value.value).toEqual({ exists: false, value: new Uint8Array(0) });
    expect(got[0]!.signature.value).toEqual(removal.signature.value); // not synthesized: the owner's signature
    // It blocks a replay of the old value (older storage_time) while it lives…
    refused(
      () => svc.store(storeReq(r, [{ kind: KIND.SIP, values: [original] }]), ctx(w, w.alice), T0 + 2_000),
      DataTooOldError,
      W.ErrorCode.Data_Too_Old,
    );
    expect(svc.data.usage().entries).toBe(1);
    // …and expires on its own lifetime.
    expect(values(svc, r, KIND.SIP, T0 + 1_000 + 119_999)).toHaveLength(1);
    expect(values(svc, r, KIND.SIP, T0 + 1_000 + 120_000)).toHaveLength(0);
  });

  it('a removed single value can be stored again with a newer storage_time', () => {
    const svc = service(w);
    const r = w.alice.userResource;
    svc.store(storeReq(r, [{ kind: KIND.NOTE, values: [single(r, KIND.NOTE, w.alice, 'a')] }]), ctx(w, w.alice), T0);
    svc.store(
      storeReq(r, [{ kind: KIND.NOTE, values: [single(r, KIND.NOTE, w.alice, '', { exists: false })] }]),
      ctx(w, w.alice),
      T0,
    );
    expect(values(svc, r, KIND.NOTE, T0)[0]!.value.value.exists).toBe(false);
    svc.store(storeReq(r, [{ kind: KIND.NOTE, values: [single(r, KIND.NOTE, w.alice, 'b')] }]), ctx(w, w.alice), T0);
    expect(new TextDecoder().decode(values(svc, r, KIND.NOTE, T0)[0]!.value.value.value)).toBe('b');
  });
});
