/**
 * DataStore in memory. Stored data is soft state — owners refresh it before its lifetime ends and the
 * overlay re-replicates it — so a restarted peer losing it is what RFC 6940 expects. A bound on bytes and
 * entries keeps a peer from being filled up: growth beyond it is refused with StorageFullError.
 */
import { toHex } from '../wire';
import { Ring } from '../topology/chord/ring';
import type { DataStore, StoreLimits, StoreUsage } from './data-store';
import { StorageFullError } from './errors';
import { compareBytes, recordUsage, type KindRecord } from './records';

export const DEFAULT_STORE_LIMITS: StoreLimits = { maxBytes: 32 * 1024 * 1024, maxEntries: 100_000 };

interface Resource {
  id: Uint8Array;
  kinds: Map<number, KindRecord>;
}

export class MemoryDataStore implements DataStore {
  readonly limits: StoreLimits;
  private readonly resources = new Map<string, Resource>();
  private bytes = 0;
  private entries = 0;
  private recordCount = 0;

  constructor(limits: Partial<StoreLimits> = {}) {
    this.limits = { ...DEFAULT_STORE_LIMITS, ...limits };
    for (const [name, v] of Object.entries(this.limits)) {
      if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`${name} must be a non-negative integer, got ${v}`);
    }
  }

  get(resourceId: Uint8Array, kind: number): KindRecord | undefined {
    return this.resources.get(toHex(resourceId))?.kinds.get(kind);
  }

  kindsAt(resourceId: Uint8Array): KindRecord[] {
    const r = this.resources.get(toHex(resourceId));
    return r ? [...r.kinds.values()].sort((a, b) => a.kind - b.kind) : [];
  }

  put(record: KindRecord): void {
    this.commit([record]);
  }

  commit(records: readonly KindRecord[]): void {
    // The same (Resource-ID, Kind) twice: the last one wins, and is what the accounting must see.
    const last = new Map<string, KindRecord>();
    for (const r of records) last.set(`${toHex(r.resourceId)}/${r.kind}`, r);
    let dBytes = 0;
    let dEntries = 0;
    for (const r of last.values()) {
      const before = recordUsage(this.get(r.resourceId, r.kind));
      const after = recordUsage(r);
      dBytes += after.bytes - before.bytes;
      dEntries += after.entries - before.entries;
    }
    if (dBytes > 0 && this.bytes + dBytes > this.limits.maxBytes)
      throw new StorageFullError('bytes', this.bytes + dBytes, this.limits.maxBytes);
    if (dEntries > 0 && this.entries + dEntries > this.limits.maxEntries)
      throw new StorageFullError('entries', this.entries + dEntries, this.limits.maxEntries);
    for (const r of last.values()) this.replace(r.resourceId, r.kind, r.values.size > 0 ? r : undefined);
  }

  delete(resourceId: Uint8Array, kind?: number): number {
    const r = this.resources.get(toHex(resourceId));
    if (!r) return 0;
    let removed = 0;
    for (const k of kind === undefined ? [...r.kinds.keys()] : [kind]) {
      removed += r.kinds.get(k)?.values.size ?? 0;
      this.replace(resourceId, k, undefined);
    }
    return removed;
  }

  resourceIds(): Uint8Array[] {
    return [...this.resources.values()].map((r) => r.id).sort(compareBytes);
  }

  resourceIdsInArc(from: Uint8Array, to: Uint8Array): Uint8Array[] {
    if (from.length !== to.length || from.length === 0)
      throw new RangeError(`arc ends must be IDs of one length, got ${from.length} and ${to.length} bytes`);
    const ring = new Ring(from.length * 8);
    const a = ring.toBig(from);
    const b = ring.toBig(to);
    const found: { id: Uint8Array; d: bigint }[] = [];
    for (const { id } of this.resources.values()) {
      if (id.length !== from.length) continue;
      const k = ring.toBig(id);
      if (ring.inArc(k, a, b)) found.push({ id, d: ring.distance(a, k) });
    }
    // Clockwise from `from`; with from == to the arc is the whole ring and `from` itself comes last.
    const order = (x: { id: Uint8Array; d: bigint }) => (x.d === 0n ? ring.size : x.d);
    return found.sort((x, y) => (order(x) < order(y) ? -1 : order(x) > order(y) ? 1 : 0)).map((x) => x.id);
  }

  usage(): StoreUsage {
    return { bytes: this.bytes, entries: this.entries, records: this.recordCount, resources: this.resources.size };
  }

  private replace(resourceId: Uint8Array, kind: number, record: KindRecord | undefined): void {
    const key = toHex(resourceId);
    let r = this.resources.get(key);
    const before = r?.kinds.get(kind);
    const was = recordUsage(before);
    const now = recordUsage(record);
    this.bytes += now.bytes - was.bytes;
    this.entries += now.entries - was.entries;
    this.recordCount += (record ? 1 : 0) - (before ? 1 : 0);
    if (record) {
      if (!r) {
        r = { id: resourceId.slice(), kinds: new Map() };
        this.resources.set(key, r);
      }
      r.kinds.set(kind, record);
    } else if (r) {
      r.kinds.delete(kind);
      if (r.kinds.size === 0) this.resources.delete(key);
    }
  }
}
