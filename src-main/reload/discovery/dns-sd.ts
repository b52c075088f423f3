/**
 * The DNS-SD (RFC 6763) names and records of a RELOAD peer on the LAN, and the checks every record from the
 * network passes before local discovery believes it. Pure: no sockets, no clock.
 *
 *   _reload._tcp.local  PTR  <node-id hex>-<overlay tag>._reload._tcp.local      (TLS-TCP-FH-NO-ICE peers)
 *   _reload._udp.local  PTR  <node-id hex>-<overlay tag>._reload._udp.local      (DTLS peers)
 *   <instance>          SRV  0 0 <port> <node-id hex>-<overlay tag>.local
 *   <instance>          TXT  "txtvers=1" "overlay=<overlay name>" "node-id=<node-id hex>"
 *   <target>.local      A / AAAA  the peer's addresses
 *
 * The overlay tag is the first 8 hex digits of SHA-256 of the lower-cased overlay name: it keeps the instance
 * name within one 63-byte label and distinct per overlay for a key used in several overlays.
 */
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import type { OutgoingRecord } from 'multicast-dns';
import { LocalDiscoveryArgumentError } from './errors';

export type LocalTransport = 'tls' | 'dtls';

/** The DNS-SD service type per overlay link protocol: `_tcp` for TLS, `_udp` for DTLS (RFC 6763 §7). */
export const SERVICE_TYPES: Readonly<Record<LocalTransport, string>> = {
  tls: '_reload._tcp.local',
  dtls: '_reload._udp.local',
};
/** DNS-SD service type enumeration (RFC 6763 §9). */
export const SERVICE_ENUMERATION = '_services._dns-sd._udp.local';
export const TXT_KEYS = { version: 'txtvers', overlay: 'overlay', nodeId: 'node-id' } as const;
export const TXT_VERSION = '1';

/** Record TTLs in seconds (RFC 6762 §10): records naming a host 120 s, the others 75 minutes. */
export interface RecordTtl {
  host: number;
  other: number;
}
export const DEFAULT_TTL: Readonly<RecordTtl> = { host: 120, other: 4500 };
/** The longest TTL a cached record keeps, whatever the sender asked for. */
export const MAX_TTL = 4500;

/** What a peer announces. */
export interface LocalAnnouncement {
  /** The overlay name (the configuration's instance-name). */
  overlay: string;
  /** The Node-ID, hex (16 to 20 bytes). */
  nodeId: string;
  /** The address to publish; if absent, the addresses of the interface (or of every interface). */
  host?: string;
  /** The port the overlay link listens on (TLS for 'tls', DTLS for 'dtls'). */
  port: number;
  transport: LocalTransport;
}

/** A peer found on the LAN: enough to open a direct link to it (a BootstrapAddress plus who and how). */
export interface LocalPeer {
  nodeId: string;
  host: string;
  port: number;
  transport: LocalTransport;
}

export interface CheckedAnnouncement {
  overlay: string;
  nodeId: string;
  host: string | undefined;
  port: number;
  transport: LocalTransport;
}

const OVERLAY_NAME = /^[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?$/;
/** A TXT string holds at most 255 bytes, and "overlay=" takes 8 of them. */
export const MAX_OVERLAY_LENGTH = 255 - `${TXT_KEYS.overlay}=`.length;
const NODE_ID_HEX = /^(?:[0-9a-f]{2}){16,20}$/;
const INSTANCE_LABEL = /^((?:[0-9a-f]{2}){16,20})-([0-9a-f]{8})$/;

function fail(field: string, message: string): never {
  throw new LocalDiscoveryArgumentError(field, message);
}

/** Checks an overlay name given by the caller and returns it lower-cased. */
export function checkOverlay(value: unknown, field = 'overlay'): string {
  if (typeof value !== 'string') fail(field, `must be a string, not ${typeof value}`);
  const overlay = value.toLowerCase();
  if (!OVERLAY_NAME.test(overlay)) fail(field, `"${value.slice(0, 80)}" is not a DNS name`);
  if (overlay.length > MAX_OVERLAY_LENGTH)
    fail(field, `is ${overlay.length} characters; a TXT record carries at most ${MAX_OVERLAY_LENGTH}`);
  return overlay;
}

export function checkAnnouncement(value: unknown): CheckedAnnouncement {
  if (typeof value !== 'object' || value === null) fail('announcement', 'must be an object');
  const a = value as Record<string, unknown>;
  const overlay = checkOverlay(a.overlay);
  if (typeof a.nodeId !== 'string') fail('nodeId', `must be a hex string, not ${typeof a.nodeId}`);
  const nodeId = a.nodeId.toLowerCase();
  if (!NODE_ID_HEX.test(nodeId)) fail('nodeId', `"${a.nodeId.slice(0, 80)}" is not 16 to 20 bytes of hex`);
  let host: string | undefined;
  if (a.host !== undefined) {
    if (typeof a.host !== 'string' || isIP(a.host) === 0)
      fail('host', `${JSON.stringify(a.host)?.slice(0, 80)} is not an IP address`);
    if (a.host === '0.0.0.0' || a.host === '::') fail('host', 'the unspecified address cannot be reached');
    host = a.host.toLowerCase();
  }
  if (typeof a.port !== 'number' || !Number.isInteger(a.port) || a.port < 1 || a.port > 65535)
    fail('port', `${String(a.port)} is not a port (1 to 65535)`);
  if (a.transport !== 'tls' && a.transport !== 'dtls') fail('transport', `must be "tls" or "dtls"`);
  return { overlay, nodeId, host, port: a.port, transport: a.transport };
}

export function overlayTag(overlay: string): string {
  return createHash('sha256').update(overlay.toLowerCase()).digest('hex').slice(0, 8);
}

export function instanceLabel(nodeId: string, overlay: string): string {
  return `${nodeId.toLowerCase()}-${overlayTag(overlay)}`;
}

/** The service instance name: `<node-id>-<tag>._reload._tcp.local` (or `_udp`). */
export function instanceName(a: { nodeId: string; overlay: string; transport: LocalTransport }): string {
  return `${instanceLabel(a.nodeId, a.overlay)}.${SERVICE_TYPES[a.transport]}`;
}

/** The SRV target: a host name of our own per announcement, so we never answer for the machine's name. */
export function targetHostName(a: { nodeId: string; overlay: string }): string {
  return `${instanceLabel(a.nodeId, a.overlay)}.local`;
}

export function serviceTransport(name: string): LocalTransport | undefined {
  if (name === SERVICE_TYPES.tls) return 'tls';
  if (name === SERVICE_TYPES.dtls) return 'dtls';
  return undefined;
}

export interface ParsedInstance {
  label: string;
  transport: LocalTransport;
}

/** Splits `<label>.<service type>`; undefined unless the label has our form and the type is one of ours. */
export function parseInstance(name: string): ParsedInstance | undefined {
  const dot = name.indexOf('.');
  if (dot < 0) return undefined;
  const label = name.slice(0, dot);
  const transport = serviceTransport(name.slice(dot + 1));
  if (!transport || !INSTANCE_LABEL.test(label)) return undefined;
  return { label, transport };
}

// ---- TXT ----

export interface ReloadTxt {
  overlay: string;
  nodeId: string;
}

export function txtStrings(a: { overlay: string; nodeId: string }): Buffer[] {
  return [
    Buffer.from(`${TXT_KEYS.version}=${TXT_VERSION}`),
    Buffer.from(`${TXT_KEYS.overlay}=${a.overlay}`),
    Buffer.from(`${TXT_KEYS.nodeId}=${a.nodeId}`),
  ];
}

const MAX_TXT_STRINGS = 64;

/**
 * Reads a TXT record's strings (RFC 6763 §6): key=value, keys printable ASCII without '=', compared without
 * case, the first occurrence wins, unknown keys ignored. Undefined unless txtvers is 1 and overlay and node-id
 * are valid.
 */
export function readTxt(data: unknown): ReloadTxt | undefined {
  const strings = Array.isArray(data) ? (data as unknown[]) : [data];
  if (strings.length > MAX_TXT_STRINGS) return undefined;
  const pairs = new Map<string, string>();
  for (const s of strings) {
    if (!(s instanceof Uint8Array) || s.length === 0 || s.length > 255) continue;
    const bytes = Buffer.from(s.buffer, s.byteOffset, s.length);
    const eq = bytes.indexOf(0x3d);
    const keyBytes = eq < 0 ? bytes : bytes.subarray(0, eq);
    if (keyBytes.length === 0 || keyBytes.some((b) => b < 0x20 || b > 0x7e)) continue;
    const key = keyBytes.toString('latin1').toLowerCase();
    if (pairs.has(key)) continue;
    // Our values are ASCII; anything else makes the value unusable, so it is kept as an empty string.
    const valueBytes = eq < 0 ? Buffer.alloc(0) : bytes.subarray(eq + 1);
    pairs.set(key, valueBytes.every((b) => b >= 0x21 && b <= 0x7e) ? valueBytes.toString('latin1') : '');
  }
  if (pairs.get(TXT_KEYS.version) !== TXT_VERSION) return undefined;
  const overlay = (pairs.get(TXT_KEYS.overlay) ?? '').toLowerCase();
  const nodeId = (pairs.get(TXT_KEYS.nodeId) ?? '').toLowerCase();
  if (!OVERLAY_NAME.test(overlay) || overlay.length > MAX_OVERLAY_LENGTH || !NODE_ID_HEX.test(nodeId)) return undefined;
  return { overlay, nodeId };
}

// ---- records ----

export type RecordData =
  | { type: 'PTR'; target: string }
  | { type: 'SRV'; port: number; target: string }
  | { type: 'TXT'; txt: ReloadTxt }
  | { type: 'A' | 'AAAA'; address: string };

/** A resource record after its checks; names lower-cased, TTL in seconds (0 = goodbye). */
export interface CheckedRecord {
  name: string;
  ttl: number;
  data: RecordData;
}

/** The identity of a record (name, type, data) for caches and known-answer suppression. */
export function recordKey(name: string, data: RecordData): string {
  switch (data.type) {
    case 'PTR':
      return `PTR ${name} ${data.target}`;
    case 'SRV':
      return `SRV ${name} ${data.port} ${data.target}`;
    case 'TXT':
      return `TXT ${name} ${data.txt.overlay} ${data.txt.nodeId}`;
    default:
      return `${data.type} ${name} ${data.address}`;
  }
}

const MAX_NAME = 255;

function dnsName(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_NAME) return undefined;
  return value.toLowerCase();
}

/**
 * Checks one resource record as dns-packet decoded it. Undefined for anything local discovery does not use or
 * that is malformed: other types or classes, bad names, ports, addresses or TXT contents.
 */
export function readRecord(raw: unknown): CheckedRecord | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const r = raw as Record<string, unknown>;
  const name = dnsName(r.name);
  if (name === undefined || (r.class !== undefined && r.class !== 'IN')) return undefined;
  const ttl = r.ttl;
  if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 0 || ttl > 0xffffffff) return undefined;
  let data: RecordData | undefined;
  switch (r.type) {
    case 'PTR': {
      const target = dnsName(r.data);
      if (target !== undefined) data = { type: 'PTR', target };
      break;
    }
    case 'SRV': {
      if (typeof r.data !== 'object' || r.data === null) break;
      const srv = r.data as Record<string, unknown>;
      const target = dnsName(srv.target);
      const port = srv.port;
      if (target !== undefined && typeof port === 'number' && Number.isInteger(port) && port >= 1 && port <= 65535)
        data = { type: 'SRV', port, target };
      break;
    }
    case 'TXT': {
      const txt = readTxt(r.data);
      if (txt) data = { type: 'TXT', txt };
      break;
    }
    case 'A':
    case 'AAAA': {
      const family = r.type === 'A' ? 4 : 6;
      if (typeof r.data === 'string' && isIP(r.data) === family) data = { type: r.type, address: r.data.toLowerCase() };
      break;
    }
  }
  return data ? { name, ttl, data } : undefined;
}

/** A record we publish, with its key for known-answer suppression. */
export interface PublishedRecord {
  key: string;
  record: OutgoingRecord;
  /** The instance it describes (for the additional-records section). */
  instance: string;
}

/** The records of one announcement (RFC 6763 §12: PTR, SRV, TXT, then the target's addresses). */
export function announcementRecords(a: CheckedAnnouncement, addresses: string[], ttl: RecordTtl): PublishedRecord[] {
  const instance = instanceName(a);
  const target = targetHostName(a);
  const type = SERVICE_TYPES[a.transport];
  const txt = { overlay: a.overlay, nodeId: a.nodeId };
  const out: PublishedRecord[] = [
    {
      key: recordKey(type, { type: 'PTR', target: instance }),
      record: { name: type, type: 'PTR', ttl: ttl.other, data: instance },
      instance,
    },
    {
      key: recordKey(instance, { type: 'SRV', port: a.port, target }),
      record: { name: instance, type: 'SRV', ttl: ttl.host, data: { priority: 0, weight: 0, port: a.port, target } },
      instance,
    },
    {
      key: recordKey(instance, { type: 'TXT', txt }),
      record: { name: instance, type: 'TXT', ttl: ttl.other, data: txtStrings(txt) },
      instance,
    },
  ];
  for (const address of addresses) {
    const family = isIP(address) === 4 ? 'A' : 'AAAA';
    out.push({
      key: recordKey(target, { type: family, address }),
      record: { name: target, type: family, ttl: ttl.host, data: address },
      instance,
    });
  }
  return out;
}
