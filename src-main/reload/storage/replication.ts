/**
 * What the overlay needs to replicate and hand over data (RFC 6940 §7.4, §10.4): everything held for
 * Resource-IDs in a ring arc, as StoreReq-ready kind data, and dropping what falls outside a range.
 * Re-stored values carry the lifetime they have left (the MUST of §7.4.1.1: minus the time held); expired
 * values and synthesized gaps are never sent.
 */
import { toHex, type StoreKindData, type StoreReq, type StoredData } from '../wire';
import type { DataStore } from './data-store';
import { liveValues, remainingLifetime, type KindRecord } from './records';

export interface ResourceExport {
  resourceId: Uint8Array;
  /** One entry per Kind with live values: its generation counter and values with remaining lifetimes. */
  kindData: StoreKindData[];
  /** The signers' certificates (DER, each once): the security block of the Store must carry them. */
  certificates: Uint8Array[];
}

/** The live values of some records as StoreKindData (values with under a second left are left out). */
export function exportRecords(resourceId: Uint8Array, records: readonly KindRecord[], now: number): ResourceExport {
  const kindData: StoreKindData[] = [];
  const certificates = new Set<Uint8Array>();
  for (const record of records) {
    const values: StoredData[] = [];
    for (const v of liveValues(record, now)) {
      const lifetime = remainingLifetime(v, now);
      if (lifetime === 0) continue;
      values.push({ ...v.data, lifetime });
      certificates.add(v.certificate);
    }
    if (values.length > 0) kindData.push({ kind: record.kind, generationCounter: record.generation, values });
  }
  return { resourceId, kindData, certificates: dedupe([...certificates]) };
}

function dedupe(certificates: Uint8Array[]): Uint8Array[] {
  const seen = new Set<string>();
  return certificates.filter((c) => {
    const key = toHex(c);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Everything live at one Resource-ID, or undefined when nothing is. */
export function exportResource(store: DataStore, resourceId: Uint8Array, now: number): ResourceExport | undefined {
  const out = exportRecords(resourceId, store.kindsAt(resourceId), now);
  return out.kindData.length > 0 ? out : undefined;
}

/** Everything live for Resource-IDs in the arc (from, to], clockwise from `from`. */
export function exportArc(store: DataStore, from: Uint8Array, to: Uint8Array, now: number): ResourceExport[] {
  const out: ResourceExport[] = [];
  for (const id of store.resourceIdsInArc(from, to)) {
    const e = exportResource(store, id, now);
    if (e) out.push(e);
  }
  return out;
}

/**
 * The StoreReq that re-stores an export. Use replica_number ≥ 1 for replicas and handovers: the receiver
 * then copies the generation counter instead of checking it, and checks the values' signers against the
 * Kind's policy rather than the signer of the StoreReq (which is us, not the data's owner).
 */
export function toStoreReq(data: ResourceExport, replicaNumber: number): StoreReq {
  return { resource: data.resourceId, replicaNumber, kindData: data.kindData };
}

/** Removes everything held for Resource-IDs outside the arc (from, to]; returns the values removed. */
export function dropOutsideArc(store: DataStore, from: Uint8Array, to: Uint8Array): number {
  const keep = new Set(store.resourceIdsInArc(from, to).map(toHex));
  let removed = 0;
  for (const id of store.resourceIds()) if (!keep.has(toHex(id))) removed += store.delete(id);
  return removed;
}
