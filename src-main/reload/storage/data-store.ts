/** Where a storing peer keeps its KindRecords: the interface StorageService and the overlay's handover use. */
import type { KindRecord } from './records';

export interface StoreLimits {
  /** Bound on the bytes of all values held (encoded StoredData + signer certificate, per value). */
  maxBytes: number;
  /** Bound on the number of values held. */
  maxEntries: number;
}

export interface StoreUsage {
  bytes: number;
  entries: number;
  /** (Resource-ID, Kind) pairs held. */
  records: number;
  resources: number;
}

export interface DataStore {
  readonly limits: StoreLimits;
  get(resourceId: Uint8Array, kind: number): KindRecord | undefined;
  /** Every record held at a Resource-ID, by ascending Kind-ID. */
  kindsAt(resourceId: Uint8Array): KindRecord[];
  /** `commit([record])`. */
  put(record: KindRecord): void;
  /**
   * Replaces the record of each (Resource-ID, Kind) given — a record without values removes it — all or
   * nothing: when the result would exceed a limit while growing, throws StorageFullError and changes
   * nothing. Changes that do not grow the bytes or entries held are always accepted.
   */
  commit(records: readonly KindRecord[]): void;
  /** Removes one Kind at a Resource-ID, or every Kind when `kind` is omitted; returns the values removed. */
  delete(resourceId: Uint8Array, kind?: number): number;
  /** Every Resource-ID with something stored, in ascending byte order. */
  resourceIds(): Uint8Array[];
  /**
   * Resource-IDs in the ring arc (from, to], clockwise from `from` (the whole ring when from == to). Only
   * IDs as long as `from` are on that ring.
   */
  resourceIdsInArc(from: Uint8Array, to: Uint8Array): Uint8Array[];
  usage(): StoreUsage;
}
