/**
 * Stored data and the Store/Fetch/Stat/Find bodies (RFC 6940 §7). The data model of a Kind is not on the
 * wire; the decoder asks `ctx.dataModelOf(kind)`. Values of Kinds it does not know are kept as opaque
 * bytes (their structures are length-delimited), so a storing peer can still answer Error_Unknown_Kind.
 */
import { readNodeIdList, readResourceId, writeNodeIdList, writeResourceId, type NodeId, type ResourceId } from './ids';
import type { DataModel } from './limits';
import { label, type Reader } from './reader';
import { readSignature, writeSignature, type Signature } from './security-block';
import { labelEncode, type Writer } from './writer';

export interface DataValue {
  exists: boolean;
  value: Uint8Array;
}

export type StoredDataValue =
  | { model: 'single'; value: DataValue }
  /** index 0xffffffff in a StoreReq appends. */
  | { model: 'array'; index: number; value: DataValue }
  | { model: 'dictionary'; key: Uint8Array; value: DataValue };

export interface StoredData {
  /** ms since 1970-01-01 UTC. */
  storageTime: bigint;
  /** seconds. */
  lifetime: number;
  value: StoredDataValue;
  signature: Signature;
}

/** A StoredData of a Kind whose data model the decoder does not know: everything after lifetime, verbatim. */
export interface OpaqueStoredData {
  storageTime: bigint;
  lifetime: number;
  opaque: Uint8Array;
}

export interface StoreKindData {
  kind: number;
  generationCounter: bigint;
  values: (StoredData | OpaqueStoredData)[];
}

export interface StoreReq {
  resource: ResourceId;
  replicaNumber: number;
  kindData: StoreKindData[];
}

export interface StoreKindResponse {
  kind: number;
  generationCounter: bigint;
  replicas: NodeId[];
}

export interface StoreAns {
  kindResponses: StoreKindResponse[];
}

export interface ArrayRange {
  /** uint32 on the wire (declared int32; 0xffffffff means "last"). */
  first: number;
  last: number;
}

export type ModelSpecifier =
  | { model: 'single' }
  | { model: 'array'; indices: ArrayRange[] }
  /** An empty key list is the wildcard: all entries. */
  | { model: 'dictionary'; keys: Uint8Array[] }
  /** The Kind is unknown to the decoder: the specifier bytes verbatim. */
  | { model: 'opaque'; bytes: Uint8Array };

export interface StoredDataSpecifier {
  kind: number;
  generation: bigint;
  specifier: ModelSpecifier;
}

export interface FetchReq {
  resource: ResourceId;
  specifiers: StoredDataSpecifier[];
}

export interface FetchKindResponse {
  kind: number;
  generation: bigint;
  values: (StoredData | OpaqueStoredData)[];
}

export interface FetchAns {
  kindResponses: FetchKindResponse[];
}

export type StatReq = FetchReq;

export interface MetaData {
  exists: boolean;
  valueLength: number;
  hashAlgorithm: number;
  hashValue: Uint8Array;
}

export type MetaDataValue =
  | { model: 'single'; value: MetaData }
  | { model: 'array'; index: number; value: MetaData }
  | { model: 'dictionary'; key: Uint8Array; value: MetaData };

export interface StoredMetaData {
  storageTime: bigint;
  lifetime: number;
  metadata: MetaDataValue;
}

export interface OpaqueStoredMetaData {
  storageTime: bigint;
  lifetime: number;
  opaque: Uint8Array;
}

export interface StatKindResponse {
  kind: number;
  generation: bigint;
  values: (StoredMetaData | OpaqueStoredMetaData)[];
}

export interface StatAns {
  kindResponses: StatKindResponse[];
}

export interface FindReq {
  resource: ResourceId;
  kinds: number[];
}

export interface FindKindData {
  kind: number;
  closest: ResourceId;
}

export interface FindAns {
  results: FindKindData[];
}

// ---------------------------------------------------------------------------------------------- values

export function readDataValue(r: Reader): DataValue {
  const exists = r.boolean('exists');
  const value = r.opaque(4, 0, 0xffffffff, 'value');
  return { exists, value };
}

export function writeDataValue(w: Writer, v: DataValue): void {
  w.boolean(v.exists, 'exists');
  w.opaque(4, 0, 0xffffffff, v.value, 'value');
}

export function readStoredDataValue(r: Reader, model: DataModel): StoredDataValue {
  try {
    switch (model) {
      case 'single':
        return { model, value: readDataValue(r) };
      case 'array': {
        const index = r.u32('index');
        return { model, index, value: readDataValue(r) };
      }
      case 'dictionary': {
        const key = r.opaque(2, 0, 0xffff, 'key');
        return { model, key, value: readDataValue(r) };
      }
    }
  } catch (error) {
    throw label(
      error,
      model === 'single' ? 'single_value_entry' : model === 'array' ? 'array_entry' : 'dictionary_entry',
    );
  }
}

export function writeStoredDataValue(w: Writer, v: StoredDataValue): void {
  switch (v.model) {
    case 'single':
      return writeDataValue(w, v.value);
    case 'array':
      w.u32(v.index, 'index');
      return writeDataValue(w, v.value);
    case 'dictionary':
      w.opaque(2, 0, 0xffff, v.key, 'key');
      return writeDataValue(w, v.value);
    default:
      throw w.fail(`unknown data model ${String((v as { model: unknown }).model)}`, 'model');
  }
}

export function isOpaqueStoredData(v: StoredData | OpaqueStoredData): v is OpaqueStoredData {
  return 'opaque' in v;
}

/** StoredData: uint32 length of the rest, then storage_time, lifetime, value, signature. */
export function readStoredData(r: Reader, model: DataModel | undefined): StoredData | OpaqueStoredData {
  try {
    const len = r.length(4, 12, 0xffffffff, 'length');
    const outer = r.enter(len, 'StoredData');
    const storageTime = r.u64('storage_time');
    const lifetime = r.u32('lifetime');
    let result: StoredData | OpaqueStoredData;
    if (!model) {
      result = { storageTime, lifetime, opaque: r.fixed(r.remaining, 'opaque') };
    } else {
      let value: StoredDataValue;
      try {
        value = readStoredDataValue(r, model);
      } catch (error) {
        throw label(error, 'value');
      }
      result = { storageTime, lifetime, value, signature: readSignature(r) };
    }
    r.exit(outer);
    return result;
  } catch (error) {
    throw label(error, 'StoredData');
  }
}

export function writeStoredData(w: Writer, d: StoredData | OpaqueStoredData): void {
  try {
    const at = w.open(4);
    w.u64(d.storageTime, 'storage_time');
    w.u32(d.lifetime, 'lifetime');
    if (isOpaqueStoredData(d)) {
      w.raw(d.opaque);
    } else {
      try {
        writeStoredDataValue(w, d.value);
      } catch (error) {
        throw labelEncode(error, 'value');
      }
      writeSignature(w, d.signature);
    }
    w.close(at, 4, 12, 0xffffffff, 'length');
  } catch (error) {
    throw labelEncode(error, 'StoredData');
  }
}

/** `values<0..2^32-1>` of one Kind: decoded with the Kind's data model. */
function readStoredDataList(r: Reader, kind: number, field: string): (StoredData | OpaqueStoredData)[] {
  const model = r.ctx.dataModelOf(kind);
  try {
    const len = r.length(4, 0, 0xffffffff);
    const outer = r.enter(len, field);
    const out: (StoredData | OpaqueStoredData)[] = [];
    while (r.pos < r.end) {
      if (out.length >= r.ctx.maxListEntries) throw r.fail(`more than ${r.ctx.maxListEntries} entries`);
      try {
        out.push(readStoredData(r, model));
      } catch (error) {
        throw label(error, `[${out.length}]`);
      }
    }
    r.exit(outer);
    return out;
  } catch (error) {
    throw label(error, field);
  }
}

// ----------------------------------------------------------------------------------------------- Store

export function readStoreReq(r: Reader): StoreReq {
  const resource = readResourceId(r, 'resource');
  const replicaNumber = r.u8('replica_number');
  const kindData: StoreKindData[] = [];
  try {
    const outer = r.enter(r.length(4, 0, 0xffffffff), 'kind_data');
    while (r.pos < r.end) {
      if (kindData.length >= r.ctx.maxListEntries) throw r.fail(`more than ${r.ctx.maxListEntries} entries`);
      try {
        const at = r.pos;
        const kind = r.u32('kind');
        for (const k of kindData) if (k.kind === kind) throw r.fail(`Kind-ID ${kind} appears twice`, 'kind', at);
        const generationCounter = r.u64('generation_counter');
        const values = readStoredDataList(r, kind, 'values');
        kindData.push({ kind, generationCounter, values });
      } catch (error) {
        throw label(error, `[${kindData.length}]`);
      }
    }
    r.exit(outer);
  } catch (error) {
    throw label(error, 'kind_data');
  }
  return { resource, replicaNumber, kindData };
}

export function writeStoreReq(w: Writer, s: StoreReq): void {
  writeResourceId(w, s.resource, 'resource');
  w.u8(s.replicaNumber, 'replica_number');
  const at = w.open(4);
  for (let i = 0; i < s.kindData.length; i++) {
    const k = s.kindData[i] as StoreKindData;
    try {
      for (let j = 0; j < i; j++)
        if ((s.kindData[j] as StoreKindData).kind === k.kind) throw w.fail(`Kind-ID ${k.kind} appears twice`, 'kind');
      w.u32(k.kind, 'kind');
      w.u64(k.generationCounter, 'generation_counter');
      w.list(4, 0, 0xffffffff, 'values', k.values, writeStoredData);
    } catch (error) {
      throw labelEncode(labelEncode(error, `[${i}]`), 'kind_data');
    }
  }
  w.close(at, 4, 0, 0xffffffff, 'kind_data');
}

export function readStoreAns(r: Reader): StoreAns {
  const kindResponses = r.list(2, 0, 0xffff, 'kind_responses', (inner) => ({
    kind: inner.u32('kind'),
    generationCounter: inner.u64('generation_counter'),
    replicas: readNodeIdList(inner, 'replicas'),
  }));
  return { kindResponses };
}

export function writeStoreAns(w: Writer, s: StoreAns, nodeIdLength: number): void {
  w.list(2, 0, 0xffff, 'kind_responses', s.kindResponses, (inner, k) => {
    inner.u32(k.kind, 'kind');
    inner.u64(k.generationCounter, 'generation_counter');
    writeNodeIdList(inner, k.replicas, nodeIdLength, 'replicas');
  });
}

// ------------------------------------------------------------------------------------ Fetch and Stat

export function readStoredDataSpecifier(r: Reader): StoredDataSpecifier {
  const kind = r.u32('kind');
  const generation = r.u64('generation');
  const model = r.ctx.dataModelOf(kind);
  const specifier = r.block(2, 0, 0xffff, 'model_specifier', (inner): ModelSpecifier => {
    switch (model) {
      case 'single':
        return { model };
      case 'array':
        return {
          model,
          indices: inner.list(2, 0, 0xffff, 'indices', (range) => {
            const at = range.pos;
            const first = range.u32('first');
            const last = range.u32('last');
            if (first > last) throw range.fail(`array range first ${first} > last ${last}`, 'first', at);
            return { first, last };
          }),
        };
      case 'dictionary':
        return { model, keys: inner.list(2, 0, 0xffff, 'keys', (k) => k.opaque(2, 0, 0xffff, 'key')) };
      case undefined:
        return { model: 'opaque', bytes: inner.fixed(inner.remaining, 'model_specifier') };
    }
  });
  return { kind, generation, specifier };
}

export function writeStoredDataSpecifier(w: Writer, s: StoredDataSpecifier): void {
  w.u32(s.kind, 'kind');
  w.u64(s.generation, 'generation');
  const spec = s.specifier;
  w.block(2, 0, 0xffff, 'model_specifier', (inner) => {
    switch (spec.model) {
      case 'single':
        return;
      case 'array':
        inner.list(2, 0, 0xffff, 'indices', spec.indices, (range, x) => {
          if (x.first > x.last) throw range.fail(`array range first ${x.first} > last ${x.last}`, 'first');
          range.u32(x.first, 'first');
          range.u32(x.last, 'last');
        });
        return;
      case 'dictionary':
        inner.list(2, 0, 0xffff, 'keys', spec.keys, (k, key) => k.opaque(2, 0, 0xffff, key, 'key'));
        return;
      case 'opaque':
        inner.raw(spec.bytes);
        return;
      default:
        throw inner.fail(`unknown data model ${String((spec as { model: unknown }).model)}`, 'model');
    }
  });
}

export function readFetchReq(r: Reader): FetchReq {
  const resource = readResourceId(r, 'resource');
  const specifiers = r.list(2, 0, 0xffff, 'specifiers', readStoredDataSpecifier);
  return { resource, specifiers };
}

export function writeFetchReq(w: Writer, f: FetchReq): void {
  writeResourceId(w, f.resource, 'resource');
  w.list(2, 0, 0xffff, 'specifiers', f.specifiers, writeStoredDataSpecifier);
}

export function readFetchAns(r: Reader): FetchAns {
  const kindResponses = r.list(4, 0, 0xffffffff, 'kind_responses', (inner) => {
    const kind = inner.u32('kind');
    const generation = inner.u64('generation');
    const values = readStoredDataList(inner, kind, 'values');
    return { kind, generation, values };
  });
  return { kindResponses };
}

export function writeFetchAns(w: Writer, f: FetchAns): void {
  w.list(4, 0, 0xffffffff, 'kind_responses', f.kindResponses, (inner, k) => {
    inner.u32(k.kind, 'kind');
    inner.u64(k.generation, 'generation');
    inner.list(4, 0, 0xffffffff, 'values', k.values, writeStoredData);
  });
}

function readMetaData(r: Reader): MetaData {
  const exists = r.boolean('exists');
  const valueLength = r.u32('value_length');
  const hashAlgorithm = r.u8('hash_algorithm');
  const hashValue = r.opaque(1, 0, 255, 'hash_value');
  return { exists, valueLength, hashAlgorithm, hashValue };
}

function writeMetaData(w: Writer, m: MetaData): void {
  w.boolean(m.exists, 'exists');
  w.u32(m.valueLength, 'value_length');
  w.u8(m.hashAlgorithm, 'hash_algorithm');
  w.opaque(1, 0, 255, m.hashValue, 'hash_value');
}

/**
 * StoredMetaData: its first field (`value_length`) is read, like StoredData's `length`, as the byte length
 * of the rest of the structure — the reading Wireshark's dissector uses (docs/decisions.md).
 */
export function readStoredMetaData(r: Reader, model: DataModel | undefined): StoredMetaData | OpaqueStoredMetaData {
  return r.block(4, 12, 0xffffffff, 'StoredMetaData', (inner) => {
    const storageTime = inner.u64('storage_time');
    const lifetime = inner.u32('lifetime');
    if (!model) return { storageTime, lifetime, opaque: inner.fixed(inner.remaining, 'opaque') };
    const metadata = inner.named('metadata', (m): MetaDataValue => {
      switch (model) {
        case 'single':
          return { model, value: readMetaData(m) };
        case 'array':
          return { model, index: m.u32('index'), value: readMetaData(m) };
        case 'dictionary':
          return { model, key: m.opaque(2, 0, 0xffff, 'key'), value: readMetaData(m) };
      }
    });
    return { storageTime, lifetime, metadata };
  });
}

export function writeStoredMetaData(w: Writer, d: StoredMetaData | OpaqueStoredMetaData): void {
  w.block(4, 12, 0xffffffff, 'StoredMetaData', (inner) => {
    inner.u64(d.storageTime, 'storage_time');
    inner.u32(d.lifetime, 'lifetime');
    if ('opaque' in d) {
      inner.raw(d.opaque);
      return;
    }
    const m = d.metadata;
    inner.named('metadata', () => {
      if (m.model === 'array') inner.u32(m.index, 'index');
      else if (m.model === 'dictionary') inner.opaque(2, 0, 0xffff, m.key, 'key');
      writeMetaData(inner, m.value);
    });
  });
}

export function readStatAns(r: Reader): StatAns {
  const kindResponses = r.list(4, 0, 0xffffffff, 'kind_responses', (inner) => {
    const kind = inner.u32('kind');
    const generation = inner.u64('generation');
    const model = inner.ctx.dataModelOf(kind);
    const values = inner.list(4, 0, 0xffffffff, 'values', (v) => readStoredMetaData(v, model));
    return { kind, generation, values };
  });
  return { kindResponses };
}

export function writeStatAns(w: Writer, s: StatAns): void {
  w.list(4, 0, 0xffffffff, 'kind_responses', s.kindResponses, (inner, k) => {
    inner.u32(k.kind, 'kind');
    inner.u64(k.generation, 'generation');
    inner.list(4, 0, 0xffffffff, 'values', k.values, writeStoredMetaData);
  });
}

// ------------------------------------------------------------------------------------------------ Find

export function readFindReq(r: Reader): FindReq {
  const resource = readResourceId(r, 'resource');
  const kinds = r.list(1, 0, 0xff, 'kinds', (inner) => inner.u32('kind'));
  return { resource, kinds };
}

export function writeFindReq(w: Writer, f: FindReq): void {
  writeResourceId(w, f.resource, 'resource');
  w.list(1, 0, 0xff, 'kinds', f.kinds, (inner, k) => inner.u32(k, 'kind'));
}

export function readFindAns(r: Reader): FindAns {
  const results = r.list(2, 0, 0xffff, 'results', (inner) => ({
    kind: inner.u32('kind'),
    closest: readResourceId(inner, 'closest'),
  }));
  return { results };
}

export function writeFindAns(w: Writer, f: FindAns): void {
  w.list(2, 0, 0xffff, 'results', f.results, (inner, k) => {
    inner.u32(k.kind, 'kind');
    writeResourceId(inner, k.closest, 'closest');
  });
}
