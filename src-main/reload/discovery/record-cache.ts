/**
 * The cache of `_reload` records heard on the LAN (RFC 6762 §5.2, §10): each record lives for its TTL
 * (capped), is refreshed by a new copy, asked for again at 80, 85, 90 and 95 % of its lifetime while someone
 * browses, and is removed at once by a goodbye (TTL 0). Peers are derived from it: a PTR to an instance, that
 * instance's TXT naming the overlay and the Node-ID its name carries, its SRV and the SRV target's addresses.
 * Pure: the caller passes the time.
 */
import { isIP } from 'node:net';
import {
  instanceLabel,
  MAX_TTL,
  parseInstance,
  recordKey,
  SERVICE_TYPES,
  type CheckedRecord,
  type LocalPeer,
  type RecordData,
} from './dns-sd';

interface Entry {
  key: string;
  name: string;
  data: RecordData;
  ttlMs: number;
  receivedAt: number;
  expiresAt: number;
  /** How many of the four refresh queries have gone out since the record was last received. */
  refreshes: number;
  /** 0-2 % of the lifetime, so that many browsers do not ask at the same moment (RFC 6762 §5.2). */
  jitterMs: number;
  /** The source address of the packet that last carried the record. */
  via: string;
}

export type ApplyResult = 'added' | 'refreshed' | 'removed' | 'ignored' | 'full';

/** What is ours, and so never reported as a peer. */
export interface OwnRecords {
  instances: ReadonlySet<string>;
  /** `${overlay} ${nodeId}` of every announcement. */
  nodes: ReadonlySet<string>;
}

const REFRESH_POINTS = [0.8, 0.85, 0.9, 0.95];

export class RecordCache {
  private readonly entries = new Map<string, Entry>();
  private readonly byName = new Map<string, Set<string>>();
  /** SRV targets and how many cached SRV records name each. */
  private readonly targets = new Map<string, number>();

  constructor(
    private readonly maxEntries: number,
    private readonly random: () => number = Math.random,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** Whether a cached SRV record points at this name (address records are kept only for such names). */
  isTarget(name: string): boolean {
    return this.targets.has(name);
  }

  apply(record: CheckedRecord, via: string, nowMs: number): ApplyResult {
    const key = recordKey(record.name, record.data);
    const existing = this.entries.get(key);
    if (record.ttl === 0) {
      if (!existing) return 'ignored';
      this.remove(existing);
      return 'removed';
    }
    const ttlMs = Math.min(record.ttl, MAX_TTL) * 1000;
    if (existing) {
      existing.ttlMs = ttlMs;
      existing.receivedAt = nowMs;
      existing.expiresAt = nowMs + ttlMs;
      existing.refreshes = 0;
      existing.jitterMs = this.random() * 0.02 * ttlMs;
      existing.via = via;
      return 'refreshed';
    }
    if (this.entries.size >= this.maxEntries) return 'full';
    const entry: Entry = {
      key,
      name: record.name,
      data: record.data,
      ttlMs,
      receivedAt: nowMs,
      expiresAt: nowMs + ttlMs,
      refreshes: 0,
      jitterMs: this.random() * 0.02 * ttlMs,
      via,
    };
    this.entries.set(key, entry);
    let keys = this.byName.get(record.name);
    if (!keys) this.byName.set(record.name, (keys = new Set()));
    keys.add(key);
    if (record.data.type === 'SRV')
      this.targets.set(record.data.target, (this.targets.get(record.data.target) ?? 0) + 1);
    return 'added';
  }

  /** Drops every record whose TTL has run out; returns how many. */
  expire(nowMs: number): number {
    let removed = 0;
    for (const entry of [...this.entries.values()]) {
      if (entry.expiresAt <= nowMs) {
        this.remove(entry);
        removed++;
      }
    }
    return removed;
  }

  /** The questions to ask now to keep records alive (each record asked for at most once per refresh point). */
  dueRefreshes(nowMs: number): { name: string; type: string }[] {
    const questions = new Map<string, { name: string; type: string }>();
    for (const entry of this.entries.values()) {
      let point = entry.refreshes;
      while (point < REFRESH_POINTS.length && nowMs >= this.refreshAt(entry, point)) point++;
      if (point === entry.refreshes) continue;
      entry.refreshes = point;
      questions.set(`${entry.data.type} ${entry.name}`, { name: entry.name, type: entry.data.type });
    }
    return [...questions.values()];
  }

  /** When something next needs doing: a refresh query (while browsing) or an expiry. */
  nextEventAt(browsing: boolean): number | undefined {
    let next: number | undefined;
    for (const entry of this.entries.values()) {
      const at =
        browsing && entry.refreshes < REFRESH_POINTS.length
          ? Math.min(this.refreshAt(entry, entry.refreshes), entry.expiresAt)
          : entry.expiresAt;
      if (next === undefined || at < next) next = at;
    }
    return next;
  }

  /** Cached PTR records for these names with more than half their lifetime left (RFC 6762 §7.1). */
  knownAnswers(
    names: readonly string[],
    nowMs: number,
    limit: number,
  ): { name: string; target: string; ttl: number }[] {
    const out: { name: string; target: string; ttl: number }[] = [];
    for (const name of names) {
      for (const entry of this.named(name, 'PTR')) {
        const left = entry.expiresAt - nowMs;
        if (entry.data.type !== 'PTR' || left <= entry.ttlMs / 2) continue;
        out.push({ name, target: entry.data.target, ttl: Math.floor(left / 1000) });
        if (out.length >= limit) return out;
      }
    }
    return out;
  }

  /** The peers of one overlay, our own announcements left out. */
  peers(overlay: string, own: OwnRecords): LocalPeer[] {
    const found = new Map<string, LocalPeer>();
    for (const transport of ['tls', 'dtls'] as const) {
      const type = SERVICE_TYPES[transport];
      for (const ptr of this.named(type, 'PTR')) {
        if (ptr.data.type !== 'PTR') continue;
        const instance = ptr.data.target;
        const parsed = parseInstance(instance);
        if (!parsed || parsed.transport !== transport || own.instances.has(instance)) continue;
        let nodeId: string | undefined;
        for (const txt of this.named(instance, 'TXT')) {
          if (txt.data.type !== 'TXT' || txt.data.txt.overlay !== overlay) continue;
          if (instanceLabel(txt.data.txt.nodeId, overlay) !== parsed.label) continue;
          nodeId = txt.data.txt.nodeId;
          break;
        }
        if (nodeId === undefined || own.nodes.has(`${overlay} ${nodeId}`)) continue;
        for (const srv of this.named(instance, 'SRV')) {
          if (srv.data.type !== 'SRV') continue;
          const host = this.pickAddress(srv.data.target, srv.via);
          const peer: LocalPeer = { nodeId, host, port: srv.data.port, transport };
          found.set(`${transport} ${nodeId} ${host} ${peer.port}`, peer);
        }
      }
    }
    return [...found.values()];
  }

  /**
   * The address to reach a target at: the one the announcement came from if the target has it (on a
   * multi-homed host that is the one on our link), else its first IPv4 address, else its first address, else
   * the announcement's source.
   */
  private pickAddress(target: string, via: string): string {
    const addresses: string[] = [];
    for (const e of this.named(target))
      if (e.data.type === 'A' || e.data.type === 'AAAA') addresses.push(e.data.address);
    if (addresses.includes(via)) return via;
    return addresses.find((a) => isIP(a) === 4) ?? addresses[0] ?? via;
  }

  private *named(name: string, type?: RecordData['type']): Generator<Entry> {
    const keys = this.byName.get(name);
    if (!keys) return;
    for (const key of keys) {
      const entry = this.entries.get(key);
      if (entry && (type === undefined || entry.data.type === type)) yield entry;
    }
  }

  private refreshAt(entry: Entry, point: number): number {
    return entry.receivedAt + entry.ttlMs * (REFRESH_POINTS[point] as number) + entry.jitterMs;
  }

  private remove(entry: Entry): void {
    this.entries.delete(entry.key);
    const keys = this.byName.get(entry.name);
    keys?.delete(entry.key);
    if (keys?.size === 0) this.byName.delete(entry.name);
    if (entry.data.type === 'SRV') {
      const count = (this.targets.get(entry.data.target) ?? 1) - 1;
      if (count > 0) this.targets.set(entry.data.target, count);
      else this.targets.delete(entry.data.target);
    }
  }
}
