/**
 * Structures of the optional RFCs: diagnostics (RFC 7851), self-tuning (RFC 7363), direct response
 * routing's forwarding option (RFC 7263), and the TURN-SERVICE value (RFC 6940 §9).
 */
import { readIpAddressPort, writeIpAddressPort, type IpAddressPort } from './address';
import { MessageExtensionType } from './codes';
import type { MessageExtension } from './contents';
import { readDestination, writeDestination, type Destination } from './destination';
import type { DecodeContext } from './limits';
import { Reader } from './reader';
import { encodeWith, type Writer } from './writer';

export interface DiagnosticExtension {
  kind: number;
  contents: Uint8Array;
}

export interface DiagnosticsRequest {
  expiration: bigint;
  timestampInitiated: bigint;
  dMFlags: bigint;
  extensions: DiagnosticExtension[];
}

export interface DiagnosticInfo {
  kind: number;
  contents: Uint8Array;
}

export interface DiagnosticsResponse {
  expiration: bigint;
  timestampInitiated: bigint;
  timestampReceived: bigint;
  hopCounter: number;
  info: DiagnosticInfo[];
}

export interface PathTrackReq {
  destination: Destination;
  request: DiagnosticsRequest;
}

export interface PathTrackAns {
  nextHop: Destination;
  response: DiagnosticsResponse;
}

export interface SelfTuningData {
  networkSize: number;
  joinRate: number;
  leaveRate: number;
}

export interface ExtensiveRoutingModeOption {
  /** 1 = DRR (RFC 7263). */
  routeMode: number;
  /** OverlayLinkType of the connection the response should use. */
  transport: number;
  ipAddressPort: IpAddressPort;
  destinations: Destination[];
}

export interface TurnServer {
  iteration: number;
  serverAddress: IpAddressPort;
}

/**
 * RFC 7851 writes both an `ext_length` field and a `<0..2^32-1>` list; one 4-byte length goes on the
 * wire (as Wireshark reads it). See docs/decisions.md.
 */
export function readDiagnosticsRequest(r: Reader): DiagnosticsRequest {
  return r.named('DiagnosticsRequest', () => ({
    expiration: r.u64('expiration'),
    timestampInitiated: r.u64('timestamp_initiated'),
    dMFlags: r.u64('dMFlags'),
    extensions: r.list(4, 0, 0xffffffff, 'diagnostic_extensions_list', (inner) => ({
      kind: inner.u16('kind'),
      contents: inner.opaque(4, 0, 0xffffffff, 'diagnostic_extension_contents'),
    })),
  }));
}

export function writeDiagnosticsRequest(w: Writer, d: DiagnosticsRequest): void {
  w.named('DiagnosticsRequest', () => {
    w.u64(d.expiration, 'expiration');
    w.u64(d.timestampInitiated, 'timestamp_initiated');
    w.u64(d.dMFlags, 'dMFlags');
    w.list(4, 0, 0xffffffff, 'diagnostic_extensions_list', d.extensions, (inner, e) => {
      inner.u16(e.kind, 'kind');
      inner.opaque(4, 0, 0xffffffff, e.contents, 'diagnostic_extension_contents');
    });
  });
}

export function readDiagnosticsResponse(r: Reader): DiagnosticsResponse {
  return r.named('DiagnosticsResponse', () => ({
    expiration: r.u64('expiration'),
    timestampInitiated: r.u64('timestamp_initiated'),
    timestampReceived: r.u64('timestamp_received'),
    hopCounter: r.u8('hop_counter'),
    info: r.list(4, 0, 0xffffffff, 'diagnostic_info_list', (inner) => ({
      kind: inner.u16('kind'),
      contents: inner.opaque(2, 0, 0xffff, 'diagnostic_info_contents'),
    })),
  }));
}

export function writeDiagnosticsResponse(w: Writer, d: DiagnosticsResponse): void {
  w.named('DiagnosticsResponse', () => {
    w.u64(d.expiration, 'expiration');
    w.u64(d.timestampInitiated, 'timestamp_initiated');
    w.u64(d.timestampReceived, 'timestamp_received');
    w.u8(d.hopCounter, 'hop_counter');
    w.list(4, 0, 0xffffffff, 'diagnostic_info_list', d.info, (inner, i) => {
      inner.u16(i.kind, 'kind');
      inner.opaque(2, 0, 0xffff, i.contents, 'diagnostic_info_contents');
    });
  });
}

export function readPathTrackReq(r: Reader): PathTrackReq {
  return { destination: r.named('destination', readDestination), request: readDiagnosticsRequest(r) };
}

export function writePathTrackReq(w: Writer, p: PathTrackReq, nodeIdLength: number): void {
  w.named('destination', () => writeDestination(w, p.destination, nodeIdLength));
  writeDiagnosticsRequest(w, p.request);
}

export function readPathTrackAns(r: Reader): PathTrackAns {
  return { nextHop: r.named('next_hop', readDestination), response: readDiagnosticsResponse(r) };
}

export function writePathTrackAns(w: Writer, p: PathTrackAns, nodeIdLength: number): void {
  w.named('next_hop', () => writeDestination(w, p.nextHop, nodeIdLength));
  writeDiagnosticsResponse(w, p.response);
}

export function readSelfTuningData(r: Reader): SelfTuningData {
  return { networkSize: r.u32('network_size'), joinRate: r.u32('join_rate'), leaveRate: r.u32('leave_rate') };
}

export function writeSelfTuningData(w: Writer, s: SelfTuningData): void {
  w.u32(s.networkSize, 'network_size');
  w.u32(s.joinRate, 'join_rate');
  w.u32(s.leaveRate, 'leave_rate');
}

/** SelfTuningData as the non-critical message extension self_tuning_data (0x0003) of a Probe (RFC 7363 §6). */
export function selfTuningExtension(data: SelfTuningData): MessageExtension {
  return {
    type: MessageExtensionType.self_tuning_data,
    critical: false,
    contents: encodeWith(writeSelfTuningData, data, 12),
  };
}

/**
 * The SelfTuningData of the first self_tuning_data extension in a message's extensions, or undefined when
 * there is none. A malformed one (not exactly 12 bytes) throws ReloadDecodeError.
 */
export function findSelfTuningData(
  extensions: readonly MessageExtension[],
  ctx: DecodeContext,
): SelfTuningData | undefined {
  const found = extensions.find((e) => e.type === MessageExtensionType.self_tuning_data);
  if (!found) return undefined;
  const r = new Reader(found.contents, ctx);
  const data = r.named('SelfTuningData', () => readSelfTuningData(r));
  r.done('SelfTuningData');
  return data;
}

export function readExtensiveRoutingModeOption(r: Reader): ExtensiveRoutingModeOption {
  const routeMode = r.u8('routemode');
  const transport = r.u8('transport');
  const ipAddressPort = readIpAddressPort(r);
  const destinations = r.list(1, 1, 0xff, 'destinations', readDestination);
  return { routeMode, transport, ipAddressPort, destinations };
}

export function writeExtensiveRoutingModeOption(w: Writer, o: ExtensiveRoutingModeOption, nodeIdLength: number): void {
  w.u8(o.routeMode, 'routemode');
  w.u8(o.transport, 'transport');
  writeIpAddressPort(w, o.ipAddressPort);
  w.list(1, 1, 0xff, 'destinations', o.destinations, (inner, d) => writeDestination(inner, d, nodeIdLength));
}

export function readTurnServer(r: Reader): TurnServer {
  return { iteration: r.u8('iteration'), serverAddress: readIpAddressPort(r) };
}

export function writeTurnServer(w: Writer, t: TurnServer): void {
  w.u8(t.iteration, 'iteration');
  writeIpAddressPort(w, t.serverAddress);
}
