/**
 * What a storing peer holds: per (Resource-ID, Kind) one KindRecord with its generation counter and its
 * values, each with the time it arrived, when it stops being valid and its signer's certificate (the
 * security block of a Fetch answer or a replica Store must carry it, RFC 6940 §6.3.4). Records are
 * immutable: the engine builds new ones and swaps them in, so a refused request cannot have touched them.
 */
import {
  toHex,
  type DataModel,
  type Signature,
  type SignerIdentity,
  type StoredData,
  type StoredDataValue,
} from '../wire';

export interface StoredValue {
  /** The StoredData as stored; an appended array entry carries its final index. */
  readonly data: StoredData;
  /** Local time (ms) at which the StoreReq carrying it arrived. */
  readonly storedAt: number;
  /** Local time (ms) from which it is no longer valid: storedAt + lifetime, or the certificate's expiry if sooner. */
  readonly expiresAt: number;
  /** DER of the signer's certificate. */
  readonly certificate: Uint8Array;
  /** Bytes accounted for it: the encoded StoredData plus the certificate. */
  readonly size: number;
}

export interface KindRecord {
  readonly resourceId: Uint8Array;
  readonly kind: number;
  readonly model: DataModel;
  /** ≥ 1 once anything was stored (RFC 6940 §7.4.1.1). */
  readonly generation: bigint;
  /** By slot (see `slotOf`): one for a single value, one per array index or dictionary key. */
  readonly values: ReadonlyMap<string, StoredValue>;
}

/** The slot a value occupies: the same slot means "replaces". */
export function slotOf(value: StoredDataValue): string {
  switch (value.model) {
    case 'single':
      return 's';
    case 'array':
      return `i${value.index}`;
    case 'dictionary':
      return `k${toHex(value.key)}`;
  }
}

export function isLive(value: StoredValue, now: number): boolean {
  return now < value.expiresAt;
}

/** Whole seconds of validity left at `now` (never more than what remains, so re-stores never extend a life). */
export function remainingLifetime(value: StoredValue, now: number): number {
  return Math.max(0, Math.floor((value.expiresAt - now) / 1000));
}

/** Live values in wire order: array entries by index, dictionary entries by key bytes. */
export function liveValues(record: KindRecord, now: number): StoredValue[] {
  const out: StoredValue[] = [];
  for (const v of record.values.values()) if (isLive(v, now)) out.push(v);
  return out.sort(compareValues);
}

export function compareValues(a: StoredValue, b: StoredValue): number {
  const x = a.data.value;
  const y = b.data.value;
  if (x.model === 'array' && y.model === 'array') return x.index - y.index;
  if (x.model === 'dictionary' && y.model === 'dictionary') return compareBytes(x.key, y.key);
  return 0;
}

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
  return a.length - b.length;
}

/** Total bytes and entries of a record, for the store's accounting. */
export function recordUsage(record: KindRecord | undefined): { bytes: number; entries: number } {
  let bytes = 0;
  if (record) for (const v of record.values.values()) bytes += v.size;
  return { bytes, entries: record?.values.size ?? 0 };
}

// ------------------------------------------------------------------------------------------------ sizes

function identityLength(id: SignerIdentity): number {
  switch (id.type) {
    case 'cert_hash':
    case 'cert_hash_node_id':
      return 3 + 2 + id.hash.length;
    case 'none':
      return 3;
    case 'unknown':
      return 3 + id.value.length;
  }
}

function signatureLength(s: Signature): number {
  return 2 + identityLength(s.identity) + 2 + s.value.length;
}

function valueLength(v: StoredDataValue): number {
  const data = 1 + 4 + v.value.value.length;
  switch (v.model) {
    case 'single':
      return data;
    case 'array':
      return 4 + data;
    case 'dictionary':
      return 2 + v.key.length + data;
  }
}

/** Length of the StoredData's wire encoding, including its 4-byte length field. */
export function storedDataLength(d: StoredData): number {
  return 4 + 8 + 4 + valueLength(d.value) + signatureLength(d.signature);
}

// ------------------------------------------------------------------------------------------------ copies

function copy(bytes: Uint8Array): Uint8Array {
  return bytes.slice();
}

function copyIdentity(id: SignerIdentity): SignerIdentity {
  switch (id.type) {
    case 'cert_hash':
    case 'cert_hash_node_id':
      return { type: id.type, hashAlg: id.hashAlg, hash: copy(id.hash) };
    case 'none':
      return { type: 'none' };
    case 'unknown':
      return { type: 'unknown', code: id.code, value: copy(id.value) };
  }
}

function copyValue(v: StoredDataValue, index?: number): StoredDataValue {
  const value = { exists: v.value.exists, value: copy(v.value.value) };
  switch (v.model) {
    case 'single':
      return { model: 'single', value };
    case 'array':
      return { model: 'array', index: index ?? v.index, value };
    case 'dictionary':
      return { model: 'dictionary', key: copy(v.key), value };
  }
}

/**
 * A deep copy: decoded byte fields are views into the received message, which storage must neither keep
 * alive nor share. `index` replaces an array entry's index (appends).
 */
export function copyStoredData(d: StoredData, index?: number): StoredData {
  return {
    storageTime: d.storageTime,
    lifetime: d.lifetime,
    value: copyValue(d.value, index),
    signature: {
      algorithm: { hash: d.signature.algorithm.hash, signature: d.signature.algorithm.signature },
      identity: copyIdentity(d.signature.identity),
      value: copy(d.signature.value),
    },
  };
}
