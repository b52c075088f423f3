/**
 * Store processing (RFC 6940 §7.4.1.1): signatures, generation counters, storage_time, max-size and
 * max-count, unknown Kinds, replica stores — and atomicity: after every refused request the stored state
 * is byte-for-byte what it was (encoded Fetch and Stat answers, and the store's accounting).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  AccessDeniedError,
  BadSignatureError,
  DataTooOldError,
  DuplicateKindError,
  GenerationCounterTooLowError,
  MalformedStorageRequestError,
  type StorageError,
  TooManyValuesError,
  UnknownKindError,
  UnknownSignerError,
  UnsignedValueError,
  ValueTooLargeError,
  ARRAY_LAST,
  toStoreReq,
} from '../../../../../src-main/reload/storage';
import * as W from '../../../../../src-main/reload/wire';
import {
  ctx,
  dict,
  entry,
  everything,
  KIND,
  makeWorld,
  nextTime,
  refused,
  service,
  single,
  snapshot,
  storeReq,
  T0,
  type World,
} from './world';

const { ErrorCode } = W;
let w: World;
beforeAll(async () => {
  w = await makeWorld();
});

const decodeCtx = W.decodeContext();

describe('signatures', () => {
  it('stores a correctly signed value and returns it byte for byte', () => {
    const svc = service(w);
    const r = w.alice.userResource;
    const value = single(r, KIND.NOTE, w.alice, 'hello');
    svc.store(storeReq(r, [{ kind: KIND.NOTE, values: [value] }]), ctx(w, w.alice), T0);
    const [got] = svc.fetch({ resource: r, specifiers: [everything(KIND.NOTE)] }, T0).answer.kindResponses[0]!.values;
    expect(W.encodeWith(W.writeStoredData, got!)).toEqual(W.encodeWith(W.writeStoredData, value));
  });

  it('refuses a value whose signature does not verify: changed value, other Kind, other Resource-ID', () => {
    const svc = service(w);
    const r = w.alice.userResource;
    const good = single(r, KIND.NOTE, w.alice, 'hello');
    const changed: W.StoredData = {
      ...good,
      value: { model: 'single', value: { exists: true, value: W.fromHex('68656c6c70') } },
    };
    const otherResource = single(w.bob.userResource, KIND.NOTE, w.alice, 'hello');
    const otherTime: W.StoredData = { ...good, storageTime: good.storageTime + 1n };
    const garbled: W.StoredData = {
      ...good,
      signature: { ...good.signature, value: good.signature.value.map((b, i) => (i === 10 ? b ^ 1 : b)) },
    };
    for (const bad of [changed, { ...otherResource }, otherTime, garbled]) {
      const e = refused(
        () => svc.store(storeReq(r, [{ kind: KIND.NOTE, values: [bad] }]), ctx(w, w.alice), T0),
        BadSignatureError,
        ErrorCode.Forbidden,
      );
      expect(e.message).toMatch(/value #0 of Kind 4026531856/);
    }
    // Signed for CERTIFICATE_BY_USER, offered as CERTIFICATE_BY_NODE: the Kind-ID is in the signed bytes.
    const asCert = entry(w.alice.nodeResource, KIND.CERT_BY_USER, w.alice, 0, 'c');
    refused(
      () =>
        svc.store(storeReq(w.alice.nodeResource, [{ kind: KIND.CERT_BY_NODE, values: [asCert] }]), ctx(w, w.alice), T0),
      BadSignatureError,
      ErrorCode.Forbidden,
    );
    expect(svc.data.usage().entries).toBe(0);
  });

  it('refuses unsigned values (identity none, algorithm {0,0}) and signers without a trusted certificate', () => {
    const svc = service(w);
    const r = w.alice.userResource;
    const good = single(r, KIND.NOTE, w.alice, 'x');
    refused(
      () =>
        svc.store(
          storeReq(r, [{ kind: KIND.NOTE, values: [{ ...good, signature: W.NO_SIGNATURE }] }]),
          ctx(w, w.alice),
          T0,
        ),
      UnsignedValueError,
      ErrorCode.Forbidden,
    );
    const zeroAlg = { ...good, signature: { ...good.signature, algorithm: { hash: 0, signature: 0 } } };
    refused(
      () => svc.store(storeReq(r, [{ kind: KIND.NOTE, values: [zeroAlg] }]), ctx(w, w.alice), T0),
      UnsignedValueError,
      ErrorCode.Forbidden,
    );
    // Same user name and Node-ID as Alice, but issued by a CA the overlay does not trust.
    expect(w.stranger.node.identity.userName).toBe(w.alice.node.identity.userName);
    const e = refused(
      () =>
        svc.store(
          storeReq(r, [{ kind: KIND.NOTE, values: [single(r, KIND.NOTE, w.stranger, 'x')] }]),
          ctx(w, w.alice),
          T0,
        ),
      UnknownSignerError,
      ErrorCode.Forbidden,
    );
    expect(e.message).toMatch(/value #0/);
    // A lookup that knows no certificate at all.
    refused(
      () =>
        svc.store(
          storeReq(r, [{ kind: KIND.NOTE, values: [good] }]),
          { requester: w.alice.ds, signers: () => undefined },
          T0,
        ),
      UnknownSignerError,
      ErrorCode.Forbidden,
    );
    expect(svc.data.usage().entries).toBe(0);
  });
});

describe('generation counters', () => {
  it('start at 1, grow by one per changing store, and 0 skips the check', () => {
    const svc = service(w);
    const r = w.alice.userResource;
    const store = (gen: bigint) =>
      svc.store(
        storeReq(r, [{ kind: KIND.NOTE, values: [single(r, KIND.NOTE, w.alice, 'v')], generation: gen }]),
        ctx(w, w.alice),
        T0,
      ).answer.kindResponses[0]!.generationCounter;
    expect(store(0n)).toBe(1n);
    expect(store(0n)).toBe(2n);
    expect(store(2n)).toBe(3n);
    expect(store(3n)).toBe(4n);
    // A store with no values for the Kind changes nothing and keeps the counter.
    const empty = svc.store(storeReq(r, [{ kind: KIND.NOTE, values: [], generation: 4n }]), ctx(w, w.alice), T0);
    expect(empty.answer.kindResponses[0]!.generationCounter).toBe(4n);
    expect(
      svc.fetch({ resource: r, specifiers: [everything(KIND.NOTE)] }, T0).answer.kindResponses[0]!.generation,
    ).toBe(4n);
  });

  it('a stale (or future) counter fails the whole request with the current counters of every Kind', () => {
    const svc = service(w);
    const r = w.alice.userResource;
    svc.store(
      storeReq(r, [
        { kind: KIND.NOTE, values: [single(r, KIND.NOTE, w.alice, 'a')] },
        { kind: KIND.SIP, values: [dict(r, KIND.SIP, w.alice, w.alice.node.nodeId, 'x')] },
      ]),
      ctx(w, w.alice),
      T0,
    );
    svc.store(
      storeReq(r, [{ kind: KIND.SIP, values: [dict(r, KIND.SIP, w.alice, w.alice.node.nodeId, 'y')] }]),
      ctx(w, w.alice),
      T0,
    );
    const before = snapshot(svc, [r]);
    for (const stale of [1n, 3n]) {
      const e = refused(
        () =>
          svc.store(
            storeReq(r, [
              { kind: KIND.NOTE, values: [single(r, KIND.NOTE, w.alice, 'b')], generation: 1n },
              { kind: KIND.SIP, values: [dict(r, KIND.SIP, w.alice, w.alice.node.nodeId, 'z')], generation: stale },
              { kind: KIND.CERT_BY_USER, values: [entry(r, KIND.CERT_BY_USER, w.alice, 0, 'c')] },
            ]),
            ctx(w, w.alice),
            T0,
          ),
        GenerationCounterTooLowError,
        ErrorCode.Generation_Counter_Too_Low,
      );
      expect(e.current).toBe(2n);
      expect(e.message).toContain('SIP-REGISTRATION');
      const info = W.readStoreAns(new W.Reader(e.errorInfo(), decodeCtx));
      expect(info).toEqual({
        kindResponses: [
          { kind: KIND.NOTE, generationCounter: 1n, replicas: [] },
          { kind: KIND.SIP, generationCounter: 2n, replicas: [] },
          { kind: KIND.CERT_BY_USER, generationCounter: 0n, replicas: [] },
        ],
      });
      expect(e.toErrorResponse().errorCode).toBe(5);
      expect(snapshot(svc, [r])).toBe(before);
    }
  });

  it('replica stores copy the counter unchecked, and must not send 0', () => {
    const svc = service(w);
    const r = w.alice.userResource;
    const put = (gen: bigint) =>
      svc.store(
        storeReq(r, [{ kind: KIND.NOTE, values: [single(r, KIND.NOTE, w.alice, 'r')], generation: gen }], 1),
        ctx(w, w.bob),
        T0,
      ).answer.kindResponses[0]!.generationCounter;
    expect(put(40n)).toBe(40n);
    expect(put(12n)).toBe(12n);
    const before = snapshot(svc, [r]);
    refused(() => put(0n), MalformedStorageRequestError, ErrorCode.Invalid_Message);
    expect(snapshot(svc, [r])).toBe(before);
    // The replica, once responsible, continues from the copied counter.
    const next = svc.store(
      storeReq(r, [{ kind: KIND.NOTE, values: [single(r, KIND.NOTE, w.alice, 'o')], generation: 12n }]),
      ctx(w, w.alice),
      T0,
    );
    expect(next.answer.kindResponses[0]!.generationCounter).toBe(13n);
  });
});

describe('storage_time', () => {
  it('must be newer than the value it replaces: equal and older are Error_Data_Too_Old', () => {
    const svc = service(w);
    const r = w.alice.userResource;
    const t = nextTime();
    svc.store(
      storeReq(r, [{ kind: KIND.NOTE, values: [single(r, KIND.NOTE, w.alice, 'first', { storageTime: t })] }]),
      ctx(w, w.alice),
      T0,
    );
    const before = snapshot(svc, [r]);
    for (const older of [t, t - 1n]) {
      const e = refused(
        () =>
          svc.store(
            storeReq(r, [
              { kind: KIND.NOTE, values: [single(r, KIND.NOTE, w.alice, 'again', { storageTime: older })] },
            ]),
            ctx(w, w.alice),
            T0,
          ),
        DataTooOldError,
        ErrorCode.Data_Too_Old,
      );
      expect(e.storedTime).toBe(t);
      expect(snapshot(svc, [r])).toBe(before);
    }
    // The writer's retry with previous storage_time + 1 succeeds (RFC 6940 §7.4.1.1).
    svc.store(
      storeReq(r, [{ kind: KIND.NOTE, values: [single(r, KIND.NOTE, w.alice, 'retry', { storageTime: t + 1n })] }]),
      ctx(w, w.alice),
      T0,
    );
    const got = svc.fetch({ resource: r, specifiers: [everything(KIND.NOTE)] }, T0).answer.kindResponses[0]!
      .values[0] as W.StoredData;
    expect(got.storageTime).toBe(t + 1n);
  });

  it('is compared per slot: other keys and indices, and expired values, do not conflict', () => {
    const svc = service(w);
    const r = w.alice.userResource;
    const t = nextTime();
    svc.store(
      storeReq(r, [
        { kind: KIND.CERT_BY_USER, values: [entry(r, KIND.CERT_BY_USER, w.alice, 0, 'a', { storageTime: t })] },
      ]),
      ctx(w, w.alice),
      T0,
    );
    svc.store(
      storeReq(r, [
        { kind: KIND.CERT_BY_USER, values: [entry(r, KIND.CERT_BY_USER, w.alice, 1, 'b', { storageTime: t })] },
      ]),
      ctx(w, w.alice),
      T0,
    );
    // An expired value no longer blocks an older storage_time.
    svc.store(
      storeReq(r, [{ kind: KIND.NOTE, values: [single(r, KIND.NOTE, w.alice, 'x', { storageTime: t, lifetime: 1 })] }]),
      ctx(w, w.alice),
      T0,
    );
    svc.store(
      storeReq(r, [{ kind: KIND.NOTE, values: [single(r, KIND.NOTE, w.alice, 'y', { storageTime: t - 5n })] }]),
      ctx(w, w.alice),
      T0 + 1000,
    );
    expect(svc.data.usage().entries).toBe(3);
  });
});

describe('max-size and max-count (Error_Data_Too_Large)', () => {
  it('max-size bounds the length of DataValue.value', () => {
    const svc = service(w);
    const r = w.alice.userResource;
    svc.store(
      storeReq(r, [{ kind: KIND.NOTE, values: [single(r, KIND.NOTE, w.alice, new Uint8Array(64))] }]),
      ctx(w, w.alice),
      T0,
    );
    const before = snapshot(svc, [r]);
    const e = refused(
      () =>
        svc.store(
          storeReq(r, [{ kind: KIND.NOTE, values: [single(r, KIND.NOTE, w.alice, new Uint8Array(65))] }]),
          ctx(w, w.alice),
          T0,
        ),
      ValueTooLargeError,
      ErrorCode.Data_Too_Large,
    );
    expect([e.size, e.maxSize]).toEqual([65, 64]);
    expect(snapshot(svc, [r])).toBe(before);
  });

  it('max-count bounds dictionary entries; overwriting a key when full is fine', () => {
    const k = 0xf0000020;
    const svc = service(w, {
      kinds: [{ id: k, dataModel: 'DICTIONARY', accessControl: 'USER-MATCH', maxCount: 3, maxSize: 10 }],
    });
    const r = w.alice.userResource;
    const keys = [1, 2, 3, 4].map((n) => Uint8Array.from({ length: 16 }, () => n));
    svc.store(
      storeReq(r, [{ kind: k, values: keys.slice(0, 3).map((key) => dict(r, k, w.alice, key, 'v')) }]),
      ctx(w, w.alice),
      T0,
    );
    const before = snapshot(svc, [r]);
    const e = refused(
      () => svc.store(storeReq(r, [{ kind: k, values: [dict(r, k, w.alice, keys[3]!, 'v')] }]), ctx(w, w.alice), T0),
      TooManyValuesError,
      ErrorCode.Data_Too_Large,
    );
    expect([e.count, e.maxCount]).toEqual([4, 3]);
    expect(e.message).toContain('Kind 4026531872');
    expect(snapshot(svc, [r])).toBe(before);
    svc.store(storeReq(r, [{ kind: k, values: [dict(r, k, w.alice, keys[0]!, 'new')] }]), ctx(w, w.alice), T0);
    expect(svc.data.usage().entries).toBe(3);
    // (The snapshot covers the world's Kinds only, and usage bytes can match by chance: ECDSA signatures
    // vary in length. Fetch the key instead.)
    const [got] = svc.fetch(
      { resource: r, specifiers: [{ kind: k, generation: 0n, specifier: { model: 'dictionary', keys: [keys[0]!] } }] },
      T0,
    ).answer.kindResponses[0]!.values;
    expect(Buffer.from((got as W.StoredData).value.value.value).toString()).toBe('new');
  });

  it('max-count bounds an array’s length (highest index + 1), appends included', () => {
    const svc = service(w);
    const r = w.alice.userResource;
    const k = KIND.CERT_BY_USER; // max-count 4
    svc.store(storeReq(r, [{ kind: k, values: [entry(r, k, w.alice, 2, 'c')] }]), ctx(w, w.alice), T0);
    svc.store(storeReq(r, [{ kind: k, values: [entry(r, k, w.alice, ARRAY_LAST, 'd')] }]), ctx(w, w.alice), T0); // index 3
    const before = snapshot(svc, [r]);
    refused(
      () => svc.store(storeReq(r, [{ kind: k, values: [entry(r, k, w.alice, ARRAY_LAST, 'e')] }]), ctx(w, w.alice), T0),
      TooManyValuesError,
      ErrorCode.Data_Too_Large,
    );
    refused(
      () => svc.store(storeReq(r, [{ kind: k, values: [entry(r, k, w.alice, 1000, 'e')] }]), ctx(w, w.alice), T0),
      TooManyValuesError,
      ErrorCode.Data_Too_Large,
    );
    expect(snapshot(svc, [r])).toBe(before);
    svc.store(storeReq(r, [{ kind: k, values: [entry(r, k, w.alice, 0, 'a')] }]), ctx(w, w.alice), T0);
    expect(svc.data.usage().entries).toBe(3);
  });
});

describe('Kinds and request shape', () => {
  it('unknown Kinds: Error_Unknown_Kind listing every one of them, nothing stored', () => {
    const svc = service(w);
    const r = w.alice.userResource;
    const e = refused(
      () =>
        svc.store(
          storeReq(r, [
            { kind: KIND.NOTE, values: [single(r, KIND.NOTE, w.alice, 'ok')] },
            { kind: 0xf0000099, values: [] },
            { kind: 77, values: [{ storageTime: 1n, lifetime: 1, opaque: Uint8Array.of(1) }] },
          ]),
          ctx(w, w.alice),
          T0,
        ),
      UnknownKindError,
      ErrorCode.Unknown_Kind,
    );
    expect(e.kinds).toEqual([0xf0000099, 77]);
    expect(e.message).toMatch(/4026531993, 77/);
    expect(W.readUnknownKinds(new W.Reader(e.errorInfo(), decodeCtx))).toEqual([0xf0000099, 77]);
    expect(svc.data.usage().entries).toBe(0);
  });

  it('a Kind twice, a value of the wrong data model, or one decoded without a model: Error_Invalid_Message', () => {
    const svc = service(w);
    const r = w.alice.userResource;
    const v = single(r, KIND.NOTE, w.alice, 'x');
    refused(
      () =>
        svc.store(
          storeReq(r, [
            { kind: KIND.NOTE, values: [v] },
            { kind: KIND.NOTE, values: [] },
          ]),
          ctx(w, w.alice),
          T0,
        ),
      DuplicateKindError,
      ErrorCode.Invalid_Message,
    );
    const e = refused(
      () => svc.store(storeReq(r, [{ kind: KIND.CERT_BY_USER, values: [v] }]), ctx(w, w.alice), T0),
      MalformedStorageRequestError,
      ErrorCode.Invalid_Message,
    );
    expect(e.field).toBe('StoreReq.kind_data[0].values[0]');
    refused(
      () =>
        svc.store(
          storeReq(r, [{ kind: KIND.NOTE, values: [{ storageTime: 1n, lifetime: 1, opaque: Uint8Array.of(0) }] }]),
          ctx(w, w.alice),
          T0,
        ),
      MalformedStorageRequestError,
      ErrorCode.Invalid_Message,
    );
    refused(
      () => svc.store(storeReq(r.subarray(0, 15), [{ kind: KIND.NOTE, values: [v] }]), ctx(w, w.alice), T0),
      MalformedStorageRequestError,
      ErrorCode.Invalid_Message,
    );
    expect(svc.data.usage().entries).toBe(0);
  });
});

describe('atomicity', () => {
  it('a request refused at its last value leaves every Kind exactly as it was', () => {
    const svc = service(w);
    const r = w.alice.userResource;
    const seed = storeReq(r, [
      { kind: KIND.NOTE, values: [single(r, KIND.NOTE, w.alice, 'kept')] },
      { kind: KIND.SIP, values: [dict(r, KIND.SIP, w.alice, w.alice.node.nodeId, 'route')] },
      {
        kind: KIND.CERT_BY_USER,
        values: [entry(r, KIND.CERT_BY_USER, w.alice, 0, 'c0'), entry(r, KIND.CERT_BY_USER, w.alice, 1, 'c1')],
      },
    ]);
    svc.store(seed, ctx(w, w.alice), T0);
    const before = snapshot(svc, [r]);
    const goodFirst = () => [
      { kind: KIND.NOTE, values: [single(r, KIND.NOTE, w.alice, 'changed')] },
      { kind: KIND.SIP, values: [dict(r, KIND.SIP, w.alice, w.alice.node.nodeId, 'changed')] },
    ];
    const bad: [string, W.StoreReq, new (...args: never[]) => StorageError][] = [
      [
        'bad signature',
        storeReq(r, [
          ...goodFirst(),
          { kind: KIND.CERT_BY_USER, values: [{ ...entry(r, KIND.CERT_BY_USER, w.alice, 2, 'x'), storageTime: 1n }] },
        ]),
        BadSignatureError,
      ],
      [
        'forbidden',
        storeReq(r, [
          ...goodFirst(),
          { kind: KIND.CERT_BY_USER, values: [entry(r, KIND.CERT_BY_USER, w.bob, 2, 'x')] },
        ]),
        AccessDeniedError,
      ],
      [
        'too old',
        storeReq(r, [
          ...goodFirst(),
          { kind: KIND.CERT_BY_USER, values: [entry(r, KIND.CERT_BY_USER, w.alice, 0, 'x', { storageTime: 5n })] },
        ]),
        DataTooOldError,
      ],
      [
        'too large',
        storeReq(r, [
          ...goodFirst(),
          { kind: KIND.CERT_BY_USER, values: [entry(r, KIND.CERT_BY_USER, w.alice, 2, new Uint8Array(301))] },
        ]),
        ValueTooLargeError,
      ],
      [
        'too many',
        storeReq(r, [
          ...goodFirst(),
          { kind: KIND.CERT_BY_USER, values: [2, 3, 4].map((i) => entry(r, KIND.CERT_BY_USER, w.alice, i, 'x')) },
        ]),
        TooManyValuesError,
      ],
      ['unknown kind', storeReq(r, [...goodFirst(), { kind: 0xf00000ff, values: [] }]), UnknownKindError],
      [
        'stale generation',
        storeReq(r, [
          ...goodFirst(),
          { kind: KIND.CERT_BY_USER, values: [entry(r, KIND.CERT_BY_USER, w.alice, 2, 'x')], generation: 9n },
        ]),
        GenerationCounterTooLowError,
      ],
      [
        'unsigned',
        storeReq(r, [
          ...goodFirst(),
          {
            kind: KIND.CERT_BY_USER,
            values: [{ ...entry(r, KIND.CERT_BY_USER, w.alice, 2, 'x'), signature: W.NO_SIGNATURE }],
          },
        ]),
        UnsignedValueError,
      ],
    ];
    for (const [name, req, type] of bad) {
      expect(() => svc.store(req, ctx(w, w.alice), T0), name).toThrow(type);
      expect(snapshot(svc, [r]), name).toBe(before);
    }
    // The same good part alone goes through.
    svc.store(storeReq(r, goodFirst()), ctx(w, w.alice), T0);
    expect(snapshot(svc, [r])).not.toBe(before);
  });

  it('the stored values are copies: changing the request afterwards changes nothing', () => {
    const svc = service(w);
    const r = w.alice.userResource.slice();
    const value = single(r, KIND.NOTE, w.alice, 'stable');
    svc.store(storeReq(r, [{ kind: KIND.NOTE, values: [value] }]), ctx(w, w.alice), T0);
    const before = snapshot(svc, [w.alice.userResource]);
    expect(before).toContain(W.toHex(new TextEncoder().encode('stable')));
    (value.value.value.value as Uint8Array).fill(0);
    value.signature.value.fill(0);
    r.fill(0);
    expect(snapshot(svc, [w.alice.userResource])).toBe(before);
    expect(svc.data.resourceIds()).toEqual([w.alice.userResource]);
  });
});

describe('replication result', () => {
  it('`stored` is what replicas need: only this request’s values, appends resolved, the new counter', () => {
    const svc = service(w);
    const replica = service(w);
    const r = w.alice.userResource;
    const k = KIND.CERT_BY_USER;
    const first = svc.store(
      storeReq(r, [{ kind: k, values: [entry(r, k, w.alice, ARRAY_LAST, 'a')] }]),
      ctx(w, w.alice),
      T0,
    );
    replica.store(toStoreReq(first.stored, 1), { requester: w.bob.ds, signers: ctx(w, w.bob).signers }, T0);
    const second = svc.store(
      storeReq(r, [{ kind: k, values: [entry(r, k, w.alice, ARRAY_LAST, 'b')] }]),
      ctx(w, w.alice),
      T0,
    );
    expect(second.stored.kindData).toHaveLength(1);
    const kd = second.stored.kindData[0]!;
    expect(kd.generationCounter).toBe(2n);
    expect(kd.values).toHaveLength(1);
    expect((kd.values[0] as W.StoredData).value).toMatchObject({ model: 'array', index: 1 });
    expect(second.stored.certificates).toEqual([w.alice.node.certificate]);
    replica.store(toStoreReq(second.stored, 1), { requester: w.bob.ds, signers: ctx(w, w.bob).signers }, T0);
    expect(snapshot(replica, [r])).toBe(snapshot(svc, [r]));
    // Sending the same replica again (a handover or re-replication of what the peer already holds) replaces
    // nothing and is not refused; the stored state does not change.
    const before = snapshot(replica, [r]);
    replica.store(toStoreReq(second.stored, 1), ctx(w, w.bob), T0);
    expect(snapshot(replica, [r])).toBe(before);
  });
});
