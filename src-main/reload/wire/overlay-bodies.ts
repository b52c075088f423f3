/** Join, Leave, RouteQuery, Probe, Ping and ConfigUpdate bodies (RFC 6940 §6.4.2, §6.5.3, §6.5.4). */
import { readDestination, writeDestination, type Destination } from './destination';
import { readNodeId, writeNodeId, type NodeId } from './ids';
import type { Reader } from './reader';
import type { Writer } from './writer';

export interface JoinReq {
  joiningPeerId: NodeId;
  overlaySpecificData: Uint8Array;
}

export interface JoinAns {
  overlaySpecificData: Uint8Array;
}

export interface LeaveReq {
  leavingPeerId: NodeId;
  /** CHORD-RELOAD: a ChordLeaveData (chord.ts). */
  overlaySpecificData: Uint8Array;
}

export interface RouteQueryReq {
  sendUpdate: boolean;
  destination: Destination;
  overlaySpecificData: Uint8Array;
}

export type ProbeInformationType = 'responsible_set' | 'num_resources' | 'uptime';
const PROBE_TYPES: readonly (ProbeInformationType | undefined)[] = [
  undefined,
  'responsible_set',
  'num_resources',
  'uptime',
];

export interface ProbeReq {
  /** Raw type codes, in the order asked (unknown codes are allowed in a request). */
  requestedInfo: number[];
}

export type ProbeInformation =
  /** responsible_ppb, num_resources or uptime (seconds). */
  | { type: ProbeInformationType; value: number }
  /** A type this implementation does not know (e.g. exp-probe); skipped via its length, kept verbatim. */
  | { type: 'unknown'; code: number; data: Uint8Array };

export interface ProbeAns {
  probeInfo: ProbeInformation[];
}

export interface PingReq {
  padding: Uint8Array;
}

export interface PingAns {
  responseId: bigint;
  /** ms since 1970-01-01 UTC. */
  time: bigint;
}

export type ConfigUpdateReq =
  /** The whole configuration document (UTF-8 XML). */
  | { type: 'config'; configData: Uint8Array }
  /** kind-block XML fragments. */
  | { type: 'kind'; kinds: Uint8Array[] };

export function readJoinReq(r: Reader): JoinReq {
  return {
    joiningPeerId: readNodeId(r, 'joining_peer_id'),
    overlaySpecificData: r.opaque(2, 0, 0xffff, 'overlay_specific_data'),
  };
}

export function writeJoinReq(w: Writer, j: JoinReq, nodeIdLength: number): void {
  writeNodeId(w, j.joiningPeerId, nodeIdLength, 'joining_peer_id');
  w.opaque(2, 0, 0xffff, j.overlaySpecificData, 'overlay_specific_data');
}

export function readJoinAns(r: Reader): JoinAns {
  return { overlaySpecificData: r.opaque(2, 0, 0xffff, 'overlay_specific_data') };
}

export function writeJoinAns(w: Writer, j: JoinAns): void {
  w.opaque(2, 0, 0xffff, j.overlaySpecificData, 'overlay_specific_data');
}

export function readLeaveReq(r: Reader): LeaveReq {
  return {
    leavingPeerId: readNodeId(r, 'leaving_peer_id'),
    overlaySpecificData: r.opaque(2, 0, 0xffff, 'overlay_specific_data'),
  };
}

export function writeLeaveReq(w: Writer, l: LeaveReq, nodeIdLength: number): void {
  writeNodeId(w, l.leavingPeerId, nodeIdLength, 'leaving_peer_id');
  w.opaque(2, 0, 0xffff, l.overlaySpecificData, 'overlay_specific_data');
}

export function readRouteQueryReq(r: Reader): RouteQueryReq {
  const sendUpdate = r.boolean('send_update');
  const destination = r.named('destination', readDestination);
  const overlaySpecificData = r.opaque(2, 0, 0xffff, 'overlay_specific_data');
  return { sendUpdate, destination, overlaySpecificData };
}

export function writeRouteQueryReq(w: Writer, q: RouteQueryReq, nodeIdLength: number): void {
  w.boolean(q.sendUpdate, 'send_update');
  w.named('destination', () => writeDestination(w, q.destination, nodeIdLength));
  w.opaque(2, 0, 0xffff, q.overlaySpecificData, 'overlay_specific_data');
}

export function readProbeReq(r: Reader): ProbeReq {
  return {
    requestedInfo: r.list(1, 0, 0xff, 'requested_info', (inner) => {
      const at = inner.pos;
      const code = inner.u8('type');
      if (code === 0) throw inner.fail('invalid ProbeInformationType 0', 'type', at);
      return code;
    }),
  };
}

export function writeProbeReq(w: Writer, p: ProbeReq): void {
  w.list(1, 0, 0xff, 'requested_info', p.requestedInfo, (inner, code) => {
    if (code === 0) throw inner.fail('invalid ProbeInformationType 0', 'type');
    inner.u8(code, 'type');
  });
}

export function readProbeAns(r: Reader): ProbeAns {
  return {
    probeInfo: r.list(2, 0, 0xffff, 'probe_info', (inner): ProbeInformation => {
      const at = inner.pos;
      const code = inner.u8('type');
      if (code === 0) throw inner.fail('invalid ProbeInformationType 0', 'type', at);
      const type = PROBE_TYPES[code];
      if (!type) return { type: 'unknown', code, data: inner.opaque(1, 0, 255, 'data') };
      const len = inner.u8('length');
      if (len !== 4) throw inner.fail(`${type} length must be 4, not ${len}`, 'length', at + 1);
      return { type, value: inner.u32(type) };
    }),
  };
}

export function writeProbeAns(w: Writer, p: ProbeAns): void {
  w.list(2, 0, 0xffff, 'probe_info', p.probeInfo, (inner, info) => {
    if (info.type === 'unknown') {
      if (info.code < 4 || info.code > 255) throw inner.fail('unknown ProbeInformationType must be 4..255', 'type');
      inner.u8(info.code);
      inner.opaque(1, 0, 255, info.data, 'data');
      return;
    }
    const code = PROBE_TYPES.indexOf(info.type);
    if (code < 1) throw inner.fail(`unknown ProbeInformationType ${String(info.type)}`, 'type');
    inner.u8(code);
    inner.u8(4);
    inner.u32(info.value, info.type);
  });
}

export function readPingReq(r: Reader): PingReq {
  return { padding: r.opaque(2, 0, 0xffff, 'padding') };
}

export function writePingReq(w: Writer, p: PingReq): void {
  w.opaque(2, 0, 0xffff, p.padding, 'padding');
}

export function readPingAns(r: Reader): PingAns {
  return { responseId: r.u64('response_id'), time: r.u64('time') };
}

export function writePingAns(w: Writer, p: PingAns): void {
  w.u64(p.responseId, 'response_id');
  w.u64(p.time, 'time');
}

export function readConfigUpdateReq(r: Reader): ConfigUpdateReq {
  const at = r.pos;
  const type = r.u8('type');
  const len = r.u32('length');
  return r.within(len, 'ConfigUpdateReq', (inner): ConfigUpdateReq => {
    if (type === 1) return { type: 'config', configData: inner.opaque(3, 0, 0xffffff, 'config_data') };
    if (type === 2)
      return { type: 'kind', kinds: inner.list(3, 0, 0xffffff, 'kinds', (k) => k.opaque(2, 0, 0xffff, 'kind')) };
    throw inner.fail(`unknown ConfigUpdateType ${type}`, 'type', at);
  });
}

export function writeConfigUpdateReq(w: Writer, c: ConfigUpdateReq): void {
  if (c.type !== 'config' && c.type !== 'kind') throw w.fail('type must be config or kind', 'type');
  w.u8(c.type === 'config' ? 1 : 2);
  w.block(4, 0, 0xffffffff, 'ConfigUpdateReq', (inner) => {
    if (c.type === 'config') inner.opaque(3, 0, 0xffffff, c.configData, 'config_data');
    else inner.list(3, 0, 0xffffff, 'kinds', c.kinds, (k, kind) => k.opaque(2, 0, 0xffff, kind, 'kind'));
  });
}
