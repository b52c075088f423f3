/**
 * Zero-configuration local overlays: peers announce themselves on the LAN with DNS-SD over multicast DNS
 * (RFC 6763 over RFC 6762) and find each other there, so two copies of the app on one network need no
 * bootstrap server. A found peer is a BootstrapAddress plus its Node-ID and link protocol; whether it really
 * holds that Node-ID is for the link's certificate check to decide (mDNS is unauthenticated).
 *
 * `openLocalDiscovery()` runs it over multicast-dns (one UDP socket on port 5353, shared with any other
 * responder on the machine). Names, TXT keys and TTLs are in dns-sd.ts; the cache in record-cache.ts.
 */
import { networkInterfaces } from 'node:os';
import { isIP } from 'node:net';
import type { RemoteInfo } from 'node:dgram';
import multicastDns, { type IncomingPacket, type MulticastDns, type OutgoingRecord } from 'multicast-dns';
import type { Logger } from '../../common/logger';
import { realClock, type Clock, type TimerHandle } from '../clock';
import {
  announcementRecords,
  checkAnnouncement,
  checkOverlay,
  DEFAULT_TTL,
  instanceLabel,
  instanceName,
  MAX_TTL,
  parseInstance,
  readRecord,
  recordKey,
  SERVICE_ENUMERATION,
  SERVICE_TYPES,
  serviceTransport,
  targetHostName,
  type CheckedAnnouncement,
  type CheckedRecord,
  type LocalAnnouncement,
  type LocalPeer,
  type PublishedRecord,
  type RecordTtl,
} from './dns-sd';
import { LocalDiscoveryArgumentError, LocalDiscoveryClosedError, LocalDiscoverySocketError } from './errors';
import { RecordCache, type OwnRecords } from './record-cache';

export type { LocalAnnouncement, LocalPeer, LocalTransport } from './dns-sd';

export interface LocalDiscovery {
  /**
   * Announces this node in an overlay and keeps answering for it until close(). Announcing the same overlay,
   * Node-ID and transport again replaces the earlier announcement. Resolves once the first announcement is sent.
   */
  announce(announcement: LocalAnnouncement): Promise<void>;
  /**
   * Reports the peers of an overlay: those known now (asynchronously, right after the call) and each one that
   * appears later, once; `gone` hears of peers that said goodbye or whose records expired. Returns the stop
   * function.
   */
  browse(overlay: string, found: (peer: LocalPeer) => void, gone?: (peer: LocalPeer) => void): () => void;
  /** The peers of an overlay known now (without our own announcements). */
  peers(overlay: string): LocalPeer[];
  /** Says goodbye for every announcement (TTL 0), stops browsing and closes the socket. */
  close(): Promise<void>;
}

export interface LocalDiscoveryOptions {
  /**
   * The IPv4 address of the LAN interface to use: the multicast group is joined and sent from there, and it is
   * the address published when an announcement names no host. Without it every interface is joined, the kernel
   * routes what is sent, and every non-loopback address is published.
   */
  interface?: string;
  /** TTLs of our records in seconds (RFC 6762's 120 s for host records and 75 min for the others). */
  ttl?: Partial<RecordTtl>;
  /** How many records the cache holds at most (what a flood of announcements can cost). Default 2048. */
  maxRecords?: number;
  /** Bound on opening the socket. Default 5 s. */
  openTimeoutMs?: number;
  clock?: Clock;
  log?: Logger;
}

const MDNS_PORT = 5353;
/** Announcements after the first (RFC 6762 §8.3: at least two, one second apart, then doubling). */
const ANNOUNCE_AGAIN_MS = [1000, 3000];
/** Continuous querying (RFC 6762 §5.2): one second, then doubling up to an hour. */
const FIRST_QUERY_INTERVAL_MS = 1000;
const MAX_QUERY_INTERVAL_MS = 3_600_000;
const MAX_KNOWN_ANSWERS = 40;
/** What we look at in one packet; mDNS packets carry a handful of records. */
const MAX_RECORDS_PER_PACKET = 256;
const MAX_QUESTIONS_PER_PACKET = 64;
const SEND_TIMEOUT_MS = 1000;
/** Refresh queries go out at 80 % of a TTL and a record is multicast at most once a second: 2 s is the least. */
const MIN_TTL = 2;

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };

/** Opens the mDNS socket; rejects with LocalDiscoverySocketError if it cannot (bounded by openTimeoutMs). */
export async function openLocalDiscovery(options: LocalDiscoveryOptions = {}): Promise<LocalDiscovery> {
  const iface = checkInterface(options.interface);
  const ttl: RecordTtl = {
    host: checkTtl(options.ttl?.host, DEFAULT_TTL.host, 'options.ttl.host'),
    other: checkTtl(options.ttl?.other, DEFAULT_TTL.other, 'options.ttl.other'),
  };
  const maxRecords = options.maxRecords ?? 2048;
  if (!Number.isInteger(maxRecords) || maxRecords < 16)
    throw new LocalDiscoveryArgumentError(
      'options.maxRecords',
      `${String(maxRecords)} is not an integer of 16 or more`,
    );
  const openTimeoutMs = options.openTimeoutMs ?? 5000;
  const log = options.log ?? silent;
  // Bound to the wildcard address: on Linux a socket bound to the interface's address gets no multicast.
  const mdns = multicastDns({
    port: MDNS_PORT,
    reuseAddr: true,
    loopback: true,
    ttl: 255,
    ...(iface ? { interface: iface, bind: '0.0.0.0' } : {}),
  });
  await new Promise<void>((resolve, reject) => {
    const settle = (error?: LocalDiscoverySocketError) => {
      clearTimeout(timer);
      mdns.removeListener('ready', onReady);
      mdns.removeListener('error', onError);
      if (!error) return resolve();
      mdns.destroy();
      reject(error);
    };
    const onReady = () => settle();
    const onError = (error: Error) =>
      settle(new LocalDiscoverySocketError(`cannot open UDP port ${MDNS_PORT}: ${error.message}`, { cause: error }));
    const timer = setTimeout(
      () => settle(new LocalDiscoverySocketError(`the mDNS socket did not open within ${openTimeoutMs} ms`)),
      openTimeoutMs,
    );
    mdns.once('ready', onReady);
    mdns.once('error', onError);
  });
  return new MdnsLocalDiscovery(mdns, { iface, ttl, maxRecords, clock: options.clock ?? realClock, log });
}

function checkInterface(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || isIP(value) !== 4)
    throw new LocalDiscoveryArgumentError('options.interface', `${JSON.stringify(value)} is not an IPv4 address`);
  const own = Object.values(networkInterfaces()).some((list) => list?.some((a) => a.address === value));
  if (!own) throw new LocalDiscoveryArgumentError('options.interface', `${value} is not an address of this host`);
  return value;
}

function checkTtl(value: unknown, fallback: number, field: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < MIN_TTL || value > MAX_TTL)
    throw new LocalDiscoveryArgumentError(field, `${String(value)} is not a TTL in seconds (${MIN_TTL} to ${MAX_TTL})`);
  return value;
}

/** The addresses to publish when an announcement names none: the interface's, or every non-loopback one. */
function localAddresses(iface: string | undefined): string[] {
  if (iface) return [iface];
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      // Link-local IPv6 needs a scope the peer cannot know; leave it out.
      if (a.internal || (a.family === 'IPv6' && /^fe[89ab]/i.test(a.address))) continue;
      if (!out.includes(a.address)) out.push(a.address);
    }
  }
  return out;
}

interface Announced {
  announcement: CheckedAnnouncement;
  instance: string;
  timers: TimerHandle[];
}

interface Browser {
  overlay: string;
  found: (peer: LocalPeer) => void;
  gone: ((peer: LocalPeer) => void) | undefined;
  known: Map<string, LocalPeer>;
}

interface Settings {
  iface: string | undefined;
  ttl: RecordTtl;
  maxRecords: number;
  clock: Clock;
  log: Logger;
}

const peerKey = (p: LocalPeer) => `${p.transport} ${p.nodeId} ${p.host} ${p.port}`;
const jitter = (min: number, max: number) => min + Math.random() * (max - min);

class MdnsLocalDiscovery implements LocalDiscovery {
  private readonly cache: RecordCache;
  private readonly announced = new Map<string, Announced>();
  private readonly browsers = new Set<Browser>();
  private maintenance: TimerHandle | undefined;
  private querying: TimerHandle | undefined;
  private queryInterval = FIRST_QUERY_INTERVAL_MS;
  private readonly pending = new Set<TimerHandle>();
  private closing: Promise<void> | undefined;
  private fullWarned = false;
  /** When each of our records was last multicast. */
  private readonly lastMulticast = new Map<string, number>();

  constructor(
    private readonly mdns: MulticastDns,
    private readonly s: Settings,
  ) {
    this.cache = new RecordCache(s.maxRecords);
    mdns.on('response', (packet, rinfo) => this.guard('response', () => this.onResponse(packet, rinfo)));
    mdns.on('query', (packet, rinfo) => this.guard('query', () => this.onQuery(packet, rinfo)));
    mdns.on('warning', (error) => s.log.debug('mdns warning', { error: error.message }));
    mdns.on('error', (error) => s.log.error('mdns socket error', { error }));
  }

  async announce(input: LocalAnnouncement): Promise<void> {
    this.assertOpen('announce');
    const announcement = checkAnnouncement(input);
    const instance = instanceName(announcement);
    const previous = this.announced.get(instance);
    const entry: Announced = { announcement, instance, timers: [] };
    if (previous) {
      for (const t of previous.timers) t.cancel();
      const next = new Set(this.records(entry).map((r) => r.key));
      const stale = this.records(previous).filter((r) => !next.has(r.key));
      if (stale.length > 0) await this.send(goodbye(stale), 'goodbye');
      this.assertOpen('announce');
    }
    this.announced.set(instance, entry);
    this.update();
    await this.multicast(this.records(entry), [], 'announce');
    for (const ms of ANNOUNCE_AGAIN_MS) {
      const timer = this.s.clock.setTimeout(() => {
        if (this.closing || this.announced.get(instance) !== entry) return;
        void this.multicast(this.records(entry), [], 'announce');
      }, ms);
      entry.timers.push(timer);
    }
  }

  browse(overlay: string, found: (peer: LocalPeer) => void, gone?: (peer: LocalPeer) => void): () => void {
    this.assertOpen('browse');
    const name = checkOverlay(overlay);
    if (typeof found !== 'function') throw new LocalDiscoveryArgumentError('found', 'must be a function');
    if (gone !== undefined && typeof gone !== 'function')
      throw new LocalDiscoveryArgumentError('gone', 'must be a function');
    const browser: Browser = { overlay: name, found, gone, known: new Map() };
    this.browsers.add(browser);
    if (this.browsers.size === 1) this.startQuerying();
    queueMicrotask(() => {
      if (this.browsers.has(browser)) this.refreshBrowser(browser);
    });
    this.reschedule();
    return () => {
      if (!this.browsers.delete(browser)) return;
      if (this.browsers.size === 0) this.stopQuerying();
    };
  }

  peers(overlay: string): LocalPeer[] {
    this.assertOpen('list peers');
    return this.cache.peers(checkOverlay(overlay), this.own());
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  // ---- receiving ----

  private onResponse(packet: IncomingPacket, rinfo: RemoteInfo): void {
    if (this.closing) return;
    // RFC 6762 §11: responses not from port 5353 are not mDNS responses.
    if (rinfo.port !== MDNS_PORT) return;
    const records = [...list(packet.answers), ...list(packet.additionals)]
      .slice(0, MAX_RECORDS_PER_PACKET)
      .map(readRecord)
      .filter((r): r is CheckedRecord => r !== undefined && this.relevant(r));
    // Address records are kept only for SRV targets, so the SRV records of the packet go first.
    records.sort((a, b) => addressRank(a) - addressRank(b));
    const now = this.s.clock.now();
    let changed = false;
    for (const record of records) {
      if (isAddress(record) && !this.cache.isTarget(record.name)) continue;
      const result = this.cache.apply(record, rinfo.address, now);
      if (result === 'full' && !this.fullWarned) {
        this.fullWarned = true;
        this.s.log.warn('local discovery cache full; ignoring new records', { max: this.s.maxRecords });
      }
      if (result === 'added' || result === 'removed' || result === 'refreshed') changed = true;
    }
    if (changed) this.update();
  }

  /** Only records about `_reload` instances, never our own, and a TXT only on the instance its name claims. */
  private relevant(r: CheckedRecord): boolean {
    switch (r.data.type) {
      case 'PTR': {
        const transport = serviceTransport(r.name);
        const instance = parseInstance(r.data.target);
        return !!transport && instance?.transport === transport && !this.announced.has(r.data.target);
      }
      case 'SRV':
        return !!parseInstance(r.name) && !this.announced.has(r.name);
      case 'TXT': {
        const instance = parseInstance(r.name);
        if (!instance || this.announced.has(r.name)) return false;
        return instance.label === instanceLabel(r.data.txt.nodeId, r.data.txt.overlay);
      }
      default:
        return ![...this.announced.values()].some((a) => targetHostName(a.announcement) === r.name);
    }
  }

  private onQuery(packet: IncomingPacket, rinfo: RemoteInfo): void {
    if (this.closing || this.announced.size === 0) return;
    const questions = list(packet.questions).slice(0, MAX_QUESTIONS_PER_PACKET).flatMap(readQuestion);
    if (questions.length === 0) return;
    const published = [...this.announced.values()].flatMap((a) => this.records(a));
    const answers = new Map<string, PublishedRecord>();
    for (const q of questions) {
      if (q.name === SERVICE_ENUMERATION && (q.type === 'PTR' || q.type === 'ANY')) {
        for (const a of this.announced.values()) {
          const type = SERVICE_TYPES[a.announcement.transport];
          const data = { type: 'PTR' as const, target: type };
          answers.set(recordKey(SERVICE_ENUMERATION, data), {
            key: recordKey(SERVICE_ENUMERATION, data),
            record: { name: SERVICE_ENUMERATION, type: 'PTR', ttl: this.s.ttl.other, data: type },
            instance: a.instance,
          });
        }
      }
      for (const r of published)
        if (r.record.name === q.name && (q.type === 'ANY' || q.type === r.record.type)) answers.set(r.key, r);
    }
    // Known-answer suppression (RFC 6762 §7.1): leave out what the asker has with at least half our TTL.
    for (const known of list(packet.answers).slice(0, MAX_RECORDS_PER_PACKET).map(readRecord)) {
      if (!known) continue;
      const ours = answers.get(recordKey(known.name, known.data));
      if (ours && known.ttl >= ours.record.ttl / 2) answers.delete(ours.key);
    }
    if (answers.size === 0) return;
    // RFC 6763 §12: with a PTR answer go the instance's SRV, TXT and addresses; with an SRV, the addresses.
    const additionals = new Map<string, PublishedRecord>();
    for (const answer of answers.values()) {
      if (answer.record.name === SERVICE_ENUMERATION) continue;
      const wanted =
        answer.record.type === 'PTR' ? ['SRV', 'TXT', 'A', 'AAAA'] : answer.record.type === 'SRV' ? ['A', 'AAAA'] : [];
      for (const r of published)
        if (r.instance === answer.instance && wanted.includes(r.record.type) && !answers.has(r.key))
          additionals.set(r.key, r);
    }
    if (rinfo.port !== MDNS_PORT) {
      // A legacy unicast query (RFC 6762 §6.7, e.g. dig): answer it directly, with its id and short TTLs.
      const cap = (r: PublishedRecord) => ({ ...r.record, ttl: Math.min(r.record.ttl, 10) });
      const id = typeof packet.id === 'number' ? packet.id : 0;
      this.mdns.respond(
        {
          id,
          questions: questions.map((q) => ({ name: q.name, type: q.type })),
          answers: [...answers.values()].map(cap),
          additionals: [...additionals.values()].map(cap),
        },
        { port: rinfo.port, address: rinfo.address },
        (error) => {
          if (error) this.s.log.debug('mdns unicast answer failed', { error: error.message });
        },
      );
      return;
    }
    // RFC 6762 §6: a record goes out on multicast at most once a second, and answers wait 20-120 ms so that
    // several responders do not answer at once.
    const now = this.s.clock.now();
    const recent = (r: PublishedRecord) => now - (this.lastMulticast.get(r.key) ?? -Infinity) < 1000;
    const fresh = [...answers.values()].filter((r) => !recent(r));
    if (fresh.length === 0) return;
    const extra = [...additionals.values()].filter((r) => !recent(r));
    this.later(jitter(20, 120), () => void this.multicast(fresh, extra, 'answer'));
  }

  // ---- querying and cache maintenance ----

  private startQuerying(): void {
    this.queryInterval = FIRST_QUERY_INTERVAL_MS;
    const ask = () => {
      this.querying = undefined;
      if (this.closing || this.browsers.size === 0) return;
      this.sendBrowseQuery();
      this.querying = this.s.clock.setTimeout(ask, this.queryInterval);
      this.queryInterval = Math.min(this.queryInterval * 2, MAX_QUERY_INTERVAL_MS);
    };
    // RFC 6762 §5.2: the first query after 20-120 ms.
    this.querying = this.s.clock.setTimeout(ask, jitter(20, 120));
  }

  private stopQuerying(): void {
    this.querying?.cancel();
    this.querying = undefined;
  }

  private sendBrowseQuery(): void {
    const types = [SERVICE_TYPES.tls, SERVICE_TYPES.dtls];
    const known = this.cache
      .knownAnswers(types, this.s.clock.now(), MAX_KNOWN_ANSWERS)
      .map((k): OutgoingRecord => ({ name: k.name, type: 'PTR', ttl: k.ttl, data: k.target }));
    // Our own PTR records count as known too, so that we do not answer our own query.
    for (const a of this.announced.values())
      known.push({
        name: SERVICE_TYPES[a.announcement.transport],
        type: 'PTR',
        ttl: this.s.ttl.other,
        data: a.instance,
      });
    void this.send({ questions: types.map((name) => ({ name, type: 'PTR' })), answers: known }, 'query');
  }

  private maintain(): void {
    this.maintenance = undefined;
    if (this.closing) return;
    const now = this.s.clock.now();
    const expired = this.cache.expire(now);
    if (this.browsers.size > 0) {
      const questions = this.cache.dueRefreshes(now);
      if (questions.length > 0) void this.send({ questions }, 'refresh');
    }
    if (expired > 0) this.update();
    else this.reschedule();
  }

  private reschedule(): void {
    this.maintenance?.cancel();
    this.maintenance = undefined;
    if (this.closing) return;
    const at = this.cache.nextEventAt(this.browsers.size > 0);
    if (at === undefined) return;
    const delay = Math.max(at - this.s.clock.now(), 20);
    this.maintenance = this.s.clock.setTimeout(() => this.maintain(), delay);
  }

  /** Tells every browser what changed, then plans the next refresh or expiry. */
  private update(): void {
    for (const browser of [...this.browsers]) this.refreshBrowser(browser);
    this.reschedule();
  }

  private refreshBrowser(browser: Browser): void {
    const now = new Map(this.cache.peers(browser.overlay, this.own()).map((p) => [peerKey(p), p]));
    const before = browser.known;
    browser.known = now;
    for (const [key, peer] of now) if (!before.has(key)) this.call('found', browser.found, peer);
    if (browser.gone) for (const [key, peer] of before) if (!now.has(key)) this.call('gone', browser.gone, peer);
  }

  private own(): OwnRecords {
    const instances = new Set<string>();
    const nodes = new Set<string>();
    for (const a of this.announced.values()) {
      instances.add(a.instance);
      nodes.add(`${a.announcement.overlay} ${a.announcement.nodeId}`);
    }
    return { instances, nodes };
  }

  // ---- sending ----

  private records(a: Announced): PublishedRecord[] {
    const addresses = a.announcement.host ? [a.announcement.host] : localAddresses(this.s.iface);
    return announcementRecords(a.announcement, addresses, this.s.ttl);
  }

  /** Sends records in a response, noting when each went out (for the once-a-second rule). */
  private multicast(answers: PublishedRecord[], additionals: PublishedRecord[], what: string): Promise<void> {
    const now = this.s.clock.now();
    for (const r of [...answers, ...additionals]) this.lastMulticast.set(r.key, now);
    return this.send({ answers: answers.map((r) => r.record), additionals: additionals.map((r) => r.record) }, what);
  }

  /** Sends a packet; failures are logged (the next announcement, query or refresh tries again). */
  private send(
    packet: {
      questions?: { name: string; type: string }[];
      answers?: OutgoingRecord[];
      additionals?: OutgoingRecord[];
    },
    what: string,
  ): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.s.log.debug('mdns send did not complete', { what });
        resolve();
      }, SEND_TIMEOUT_MS);
      const done = (error?: Error | null) => {
        clearTimeout(timer);
        if (error) this.s.log.warn('mdns send failed', { what, error: error.message });
        resolve();
      };
      try {
        if (packet.questions) this.mdns.query({ ...packet, questions: packet.questions }, done);
        else this.mdns.respond({ answers: packet.answers ?? [], additionals: packet.additionals ?? [] }, done);
      } catch (error) {
        done(error as Error);
      }
    });
  }

  private later(ms: number, fn: () => void): void {
    const handle = this.s.clock.setTimeout(() => {
      this.pending.delete(handle);
      if (!this.closing) fn();
    }, ms);
    this.pending.add(handle);
  }

  private async shutdown(): Promise<void> {
    this.stopQuerying();
    this.maintenance?.cancel();
    for (const t of this.pending) t.cancel();
    this.pending.clear();
    this.browsers.clear();
    const records = [...this.announced.values()].flatMap((a) => {
      for (const t of a.timers) t.cancel();
      return this.records(a);
    });
    this.announced.clear();
    if (records.length > 0) await this.send(goodbye(records), 'goodbye');
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, SEND_TIMEOUT_MS);
      this.mdns.destroy(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private assertOpen(what: string): void {
    if (this.closing) throw new LocalDiscoveryClosedError(`cannot ${what}: local discovery is closed`);
  }

  private call(what: string, fn: (peer: LocalPeer) => void, peer: LocalPeer): void {
    try {
      fn({ ...peer });
    } catch (error) {
      this.s.log.warn(`local discovery ${what} listener threw`, { error });
    }
  }

  /** Nothing a packet does may throw out of the socket's event handler. */
  private guard(what: string, fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.s.log.warn('mdns packet dropped', { what, error });
    }
  }
}

function goodbye(records: PublishedRecord[]): { answers: OutgoingRecord[] } {
  return { answers: records.map((r) => ({ ...r.record, ttl: 0 })) };
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function readQuestion(raw: unknown): { name: string; type: string }[] {
  if (typeof raw !== 'object' || raw === null) return [];
  const q = raw as Record<string, unknown>;
  if (typeof q.name !== 'string' || typeof q.type !== 'string' || q.name.length > 255) return [];
  return [{ name: q.name.toLowerCase(), type: q.type }];
}

function isAddress(r: CheckedRecord): boolean {
  return r.data.type === 'A' || r.data.type === 'AAAA';
}

function addressRank(r: CheckedRecord): number {
  return isAddress(r) ? 1 : 0;
}
