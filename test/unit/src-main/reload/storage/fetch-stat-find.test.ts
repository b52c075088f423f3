/**
 * Fetch (RFC 6940 §7.4.2), Stat (§7.4.3) and Find (§7.4.4): array ranges with synthesized gaps, dictionary
 * keys and the wildcard, the generation shortcut, Stat metadata, Find's nearest Resource-ID. Answers are
 * also pushed through the real wire encoders and decoders.
 */
import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { verifyStoredData } from '../../../../../src-main/reload/crypto';
import {
  ARRAY_LAST,
  DuplicateKindError,
  MalformedStorageRequestError,
  NotResponsibleError,
  type StorageService,
  UnknownKindError,
} from '../../../../../src-main/reload/storage';
import * as W from '../../../../../src-main/reload/wire';
import {
  ctx,
  dict,
  entry,
  everything,
  KIND,
  makeWorld,
  nodeMultiple,
  refused,
  service,
  single,
  storeReq,
  T0,
  type World,
} from './world';

const { ErrorCode } = W;
let w: World;
beforeAll(async () => {
  w = await makeWorld();
});

const text = (v: W.StoredData | W.OpaqueStoredData) => {
  const d = v as W.StoredData;
  return d.value.value.exists ? new TextDecoder().decode(d.value.value.value) : null;
};
const indexOf = (v: W.StoredData | W.OpaqueStoredData) => ((v as W.StoredData).value as { index: number }).index;
const isSynthesized = (v: W.StoredData | W.OpaqueStoredData) => {
  const s = (v as W.StoredData).signature;
  return s.identity.type === 'none' && s.algorithm.hash === 0 && s.algorithm.signature === 0 && s.value.length === 0;
};

function arrays(): { svc: StorageService; r: Uint8Array } {
  const svc = service(w);
  const r = w.alice.userResource;
  const k = KIND.CERT_BY_USER;
  // Indices 0 and 3 stored; 1 and 2 are gaps.
  svc.store(
    storeReq(r, [{ kind: k, values: [entry(r, k, w.alice, 0, 'zero'), entry(r, k, w.alice, 3, 'three')] }]),
    ctx(w, w.alice),
    T0,
  );
  return { svc, r };
}

function fetchArray(svc: StorageService, r: Uint8Array, indices: W.ArrayRange[], generation = 0n) {
  return svc.fetch(
    { resource: r, specifiers: [{ kind: KIND.CERT_BY_USER, generation, specifier: { model: 'array', indices } }] },
    T0,
  ).answer.kindResponses[0]!;
}

describe('Fetch: arrays', () => {
  it('returns the requested ranges with gaps synthesized (exists = false, no signature)', () => {
    const { svc, r } = arrays();
    const got = fetchArray(svc, r, [{ first: 0, last: ARRAY_LAST }]).values;
    expect(got.map(indexOf)).toEqual([0, 1, 2, 3]);
    expect(got.map(text)).toEqual(['zero', null, null, 'three']);
    expect(got.map(isSynthesized)).toEqual([false, true, true, false]);
    // The real values still verify with their signer's key (array index zeroed in the signed bytes).
    for (const v of [got[0]!, got[3]!])
      expect(
        verifyStoredData(r, KIND.CERT_BY_USER, v as W.StoredData, w.alice.node.identity.certificate.publicKey),
      ).toBe(true);
  });

  it('several ranges, "last" (0xffffffff), and ranges past the end clipped to the array', () => {
    const { svc, r } = arrays();
    expect(
      fetchArray(svc, r, [
        { first: 1, last: 1 },
        { first: 3, last: 100 },
      ]).values.map(indexOf),
    ).toEqual([1, 3]);
    expect(fetchArray(svc, r, [{ first: ARRAY_LAST, last: ARRAY_LAST }]).values.map(text)).toEqual(['three']);
    expect(fetchArray(svc, r, [{ first: 4, last: 9 }]).values).toEqual([]);
    expect(fetchArray(svc, r, []).values).toEqual([]);
  });

  it('overlapping or inverted ranges are Error_Invalid_Message', () => {
    const { svc, r } = arrays();
    refused(
      () =>
        fetchArray(svc, r, [
          { first: 0, last: 2 },
          { first: 2, last: 3 },
        ]),
      MalformedStorageRequestError,
      ErrorCode.Invalid_Message,
    );
    refused(
      () =>
        fetchArray(svc, r, [
          { first: 0, last: ARRAY_LAST },
          { first: ARRAY_LAST, last: ARRAY_LAST },
        ]),
      MalformedStorageRequestError,
      ErrorCode.Invalid_Message,
    );
    refused(() => fetchArray(svc, r, [{ first: 3, last: 1 }]), MalformedStorageRequestError, ErrorCode.Invalid_Message);
  });

  it('appends (index 0xffffffff) land after the last entry, and read back at that index', () => {
    const svc = service(w);
    const r = w.alice.userResource;
    const k = KIND.CERT_BY_USER;
    svc.store(storeReq(r, [{ kind: k, values: [entry(r, k, w.alice, ARRAY_LAST, 'first')] }]), ctx(w, w.alice), T0);
    svc.store(storeReq(r, [{ kind: k, values: [entry(r, k, w.alice, 2, 'two')] }]), ctx(w, w.alice), T0);
    // The next append goes after the highest index (2), not after the count of entries.
    svc.store(storeReq(r, [{ kind: k, values: [entry(r, k, w.alice, ARRAY_LAST, 'three')] }]), ctx(w, w.alice), T0);
    const got = fetchArray(svc, r, [{ first: 0, last: ARRAY_LAST }]).values;
    expect(got.map(indexOf)).toEqual([0, 1, 2, 3]);
    expect(got.map(text)).toEqual(['first', null, 'two', 'three']);
    expect(verifyStoredData(r, k, got[3] as W.StoredData, w.alice.node.identity.certificate.publicKey)).toBe(true);
  });
});

describe('Fetch: dictionaries and single values', () => {
  function registrations(): { svc: StorageService; r: Uint8Array; keys: Uint8Array[] } {
    const k = 0xf0000030;
    const svc = service(w, {
      kinds: [{ id: k, dataModel: 'DICTIONARY', accessControl: 'USER-MATCH', maxCount: 10, maxSize: 100 }],
    });
    const r = w.alice.userResource;
    const keys = [0x30, 0x10, 0x20].map((b) => Uint8Array.of(b, b));
    svc.store(
      storeReq(r, [{ kind: k, values: keys.map((key, i) => dict(r, k, w.alice, key, `v${i}`)) }]),
      ctx(w, w.alice),
      T0,
    );
    return { svc, r, keys };
  }
  const fetchKeys = (svc: StorageService, r: Uint8Array, keys: Uint8Array[]) =>
    svc.fetch(
      { resource: r, specifiers: [{ kind: 0xf0000030, generation: 0n, specifier: { model: 'dictionary', keys } }] },
      T0,
    ).answer.kindResponses[0]!.values;
  const keyOf = (v: W.StoredData | W.OpaqueStoredData) =>
    W.toHex(((v as W.StoredData).value as { key: Uint8Array }).key);

  it('no keys is the wildcard: every entry, in key order', () => {
    const { svc, r } = registrations();
    const got = fetchKeys(svc, r, []);
    expect(got.map(keyOf)).toEqual(['1010', '2020', '3030']);
    expect(got.map(text)).toEqual(['v1', 'v2', 'v0']);
  });

  it('named keys come back in request order; missing ones synthesized as nonexistent', () => {
    const { svc, r } = registrations();
    const got = fetchKeys(svc, r, [Uint8Array.of(0x30, 0x30), Uint8Array.of(0x99), Uint8Array.of(0x10, 0x10)]);
    expect(got.map(keyOf)).toEqual(['3030', '99', '1010']);
    expect(got.map(text)).toEqual(['v0', null, 'v1']);
    expect(got.map(isSynthesized)).toEqual([false, true, false]);
  });

  it('a single value, and nothing at all where nothing is stored', () => {
    const svc = service(w);
    const r = w.alice.userResource;
    expect(svc.fetch({ resource: r, specifiers: [everything(KIND.NOTE)] }, T0).answer.kindResponses).toEqual([
      { kind: KIND.NOTE, generation: 0n, values: [] },
    ]);
    svc.store(storeReq(r, [{ kind: KIND.NOTE, values: [single(r, KIND.NOTE, w.alice, 'one')] }]), ctx(w, w.alice), T0);
    const res = svc.fetch({ resource: r, specifiers: [everything(KIND.NOTE)] }, T0);
    expect(res.answer.kindResponses[0]!.values.map(text)).toEqual(['one']);
    expect(res.certificates).toEqual([w.alice.node.certificate]);
  });

  it('SIP-REGISTRATION: a wildcard fetch returns every device of the AOR', () => {
    const svc = service(w);
    const r = w.multi.userResource;
    svc.store(
      storeReq(r, [{ kind: KIND.SIP, values: [dict(r, KIND.SIP, w.multi, w.multi.nodeIds[1], 'route')] }]),
      ctx(w, w.multi),
      T0,
    );
    const got = svc.fetch({ resource: r, specifiers: [everything(KIND.SIP)] }, T0).answer.kindResponses[0]!.values;
    expect(got.map(keyOf)).toEqual([W.toHex(w.multi.nodeIds[1])]);
  });
});

describe('Fetch: generations, Kinds, encoding', () => {
  it('the stored generation asked for returns no values; any other returns them', () => {
    const { svc, r } = arrays();
    expect(fetchArray(svc, r, [{ first: 0, last: ARRAY_LAST }], 1n)).toEqual({
      kind: KIND.CERT_BY_USER,
      generation: 1n,
      values: [],
    });
    expect(fetchArray(svc, r, [{ first: 0, last: ARRAY_LAST }], 7n).values).toHaveLength(4);
  });

  it('unknown Kinds are refused, naming them all; a specifier of the wrong model is Error_Invalid_Message', () => {
    const { svc, r } = arrays();
    const e = refused(
      () =>
        svc.fetch(
          {
            resource: r,
            specifiers: [
              everything(KIND.CERT_BY_USER),
              { kind: 99, generation: 0n, specifier: { model: 'opaque', bytes: new Uint8Array(0) } },
            ],
          },
          T0,
        ),
      UnknownKindError,
      ErrorCode.Unknown_Kind,
    );
    expect(e.kinds).toEqual([99]);
    refused(
      () =>
        svc.fetch(
          { resource: r, specifiers: [{ kind: KIND.CERT_BY_USER, generation: 0n, specifier: { model: 'single' } }] },
          T0,
        ),
      MalformedStorageRequestError,
      ErrorCode.Invalid_Message,
    );
  });

  it('FetchAns and StatAns encode and decode with the wire codec', () => {
    const { svc, r } = arrays();
    const req: W.FetchReq = { resource: r, specifiers: [everything(KIND.CERT_BY_USER), everything(KIND.NOTE)] };
    const decoded = W.decodeContext({ dataModelOf: (k) => svc.dataModelOf(k) });
    const fetchBytes = W.encodeWith(W.writeFetchAns, svc.fetch(req, T0).answer);
    const back = W.readFetchAns(new W.Reader(fetchBytes, decoded));
    expect(back.kindResponses.map((k) => k.values.length)).toEqual([4, 0]);
    const statBytes = W.encodeWith(W.writeStatAns, svc.stat(req, T0));
    expect(W.readStatAns(new W.Reader(statBytes, decoded))).toEqual(svc.stat(req, T0));
  });
});

describe('Stat', () => {
  it('metadata per value: exists, length, SHA-256 of the value with its length; times; gaps synthesized', () => {
    const { svc, r } = arrays();
    const stored = fetchArray(svc, r, [{ first: 0, last: 0 }]).values[0] as W.StoredData;
    const stat = svc.stat(
      {
        resource: r,
        specifiers: [
          { kind: KIND.CERT_BY_USER, generation: 0n, specifier: { model: 'array', indices: [{ first: 0, last: 1 }] } },
        ],
      },
      T0 + 10_500,
    ).kindResponses[0]!;
    expect(stat.generation).toBe(1n);
    const [zero, gap] = stat.values as W.StoredMetaData[];
    const digest = createHash('sha256')
      .update(Uint8Array.of(0, 0, 0, 4))
      .update(new TextEncoder().encode('zero'))
      .digest();
    expect(zero).toEqual({
      storageTime: stored.storageTime,
      lifetime: 3600 - 11,
      metadata: {
        model: 'array',
        index: 0,
        value: { exists: true, valueLength: 4, hashAlgorithm: 4, hashValue: new Uint8Array(digest) },
      },
    });
    expect(gap!.storageTime).toBe(0n);
    expect(gap!.metadata).toMatchObject({ model: 'array', index: 1, value: { exists: false, valueLength: 0 } });
  });

  it('a replica and its original agree byte for byte (the use Stat is for)', () => {
    const { svc, r } = arrays();
    const replica = service(w);
    const k = KIND.CERT_BY_USER;
    const fetched = svc.fetch({ resource: r, specifiers: [everything(k)] }, T0).answer.kindResponses[0]!;
    replica.store(
      storeReq(
        r,
        [{ kind: k, generation: fetched.generation, values: fetched.values.filter((v) => !isSynthesized(v)) }],
        1,
      ),
      ctx(w, w.bob),
      T0,
    );
    const stat = (s: StorageService) =>
      W.toHex(W.encodeWith(W.writeStatAns, s.stat({ resource: r, specifiers: [everything(k)] }, T0)));
    expect(stat(replica)).toBe(stat(svc));
  });
});

describe('Find', () => {
  function turnServers() {
    const svc = service(w);
    const ids: Uint8Array[] = [];
    for (const [who, i] of [
      [w.alice, 1],
      [w.bob, 2],
      [w.carol, 3],
    ] as const) {
      const r = nodeMultiple(who.node.nodeId, i);
      svc.store(storeReq(r, [{ kind: KIND.TURN, values: [single(r, KIND.TURN, who, 'turn')] }]), ctx(w, who), T0);
      ids.push(r);
    }
    const sorted = [...ids].sort((a, b) => W.toHex(a).localeCompare(W.toHex(b)));
    return { svc, sorted };
  }
  const plusOne = (id: Uint8Array) => {
    const out = id.slice();
    for (let i = out.length - 1; i >= 0; i--) {
      out[i] = (out[i]! + 1) & 0xff;
      if (out[i] !== 0) break;
    }
    return out;
  };

  it('returns the nearest stored Resource-ID at or after the requested one, wrapping round the ring', () => {
    const { svc, sorted } = turnServers();
    const [a, b, c] = sorted as [Uint8Array, Uint8Array, Uint8Array];
    const find = (id: Uint8Array) => svc.find({ resource: id, kinds: [KIND.TURN] }, T0).results[0]!.closest;
    expect(find(a)).toEqual(a);
    expect(find(plusOne(a))).toEqual(b);
    expect(find(plusOne(b))).toEqual(c);
    expect(find(plusOne(c))).toEqual(a); // wraps
    // Walking the overlay: R(n+1) = nearest(1 + R(n)) visits every one.
    const seen = [find(new Uint8Array(16))];
    for (let i = 0; i < 2; i++) seen.push(find(plusOne(seen[seen.length - 1]!)));
    expect(seen).toEqual(sorted);
  });

  it('unknown Kinds and Kinds with nothing live get 0; unfindable Kinds are left out', () => {
    const { svc } = turnServers();
    const res = svc.find({ resource: new Uint8Array(16), kinds: [0xf00000aa, KIND.SIP, KIND.TURN] }, T0).results;
    expect(res[0]).toEqual({ kind: 0xf00000aa, closest: new Uint8Array(16) });
    expect(res[1]).toEqual({ kind: KIND.SIP, closest: new Uint8Array(16) });
    expect(res[2]!.closest).not.toEqual(new Uint8Array(16));
    // After every TURN value has expired there is nothing to find.
    expect(svc.find({ resource: new Uint8Array(16), kinds: [KIND.TURN] }, T0 + 3_600_000).results[0]!.closest).toEqual(
      new Uint8Array(16),
    );
    const limited = service(w, { findable: (k) => k !== KIND.NOTE });
    expect(
      limited.find({ resource: new Uint8Array(16), kinds: [KIND.NOTE, KIND.TURN] }, T0).results.map((x) => x.kind),
    ).toEqual([KIND.TURN]);
    const bytes = W.encodeWith(W.writeFindAns, { results: res });
    expect(W.readFindAns(new W.Reader(bytes, W.decodeContext()))).toEqual({ results: res });
  });

  it('deletion markers are not something to find', () => {
    const svc = service(w);
    const r = w.alice.userResource;
    svc.store(
      storeReq(r, [{ kind: KIND.NOTE, values: [single(r, KIND.NOTE, w.alice, '', { exists: false })] }]),
      ctx(w, w.alice),
      T0,
    );
    expect(svc.find({ resource: r, kinds: [KIND.NOTE] }, T0).results[0]!.closest).toEqual(new Uint8Array(16));
    svc.store(storeReq(r, [{ kind: KIND.NOTE, values: [single(r, KIND.NOTE, w.alice, 'back')] }]), ctx(w, w.alice), T0);
    expect(svc.find({ resource: r, kinds: [KIND.NOTE] }, T0).results[0]!.closest).toEqual(r);
  });

  it('duplicate Kinds are Error_Invalid_Message; a Resource-ID we are not responsible for is Error_Not_Found', () => {
    const svc = service(w, { isResponsible: () => false });
    refused(
      () => svc.find({ resource: new Uint8Array(16), kinds: [2, 2] }, T0),
      DuplicateKindError,
      ErrorCode.Invalid_Message,
    );
    refused(() => svc.find({ resource: new Uint8Array(16), kinds: [2] }, T0), NotResponsibleError, ErrorCode.Not_Found);
  });
});
