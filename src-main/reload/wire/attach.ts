/** Attach and AppAttach bodies with ICE candidates (RFC 6940 §6.5.1, §6.5.2). */
import { readIpAddressPort, writeIpAddressPort, type IpAddressPort } from './address';
import type { Reader } from './reader';
import type { Writer } from './writer';

export type CandType = 'host' | 'srflx' | 'prflx' | 'relay';
const CAND_TYPES: readonly (CandType | undefined)[] = [undefined, 'host', 'srflx', 'prflx', 'relay'];

export interface IceExtension {
  name: Uint8Array;
  value: Uint8Array;
}

export interface IceCandidate {
  addrPort: IpAddressPort;
  /** OverlayLinkType: 1 DTLS-UDP-SR, 3 DTLS-UDP-SR-NO-ICE, 4 TLS-TCP-FH-NO-ICE. */
  overlayLink: number;
  foundation: Uint8Array;
  priority: number;
  type: CandType;
  /** Present for srflx, prflx and relay; absent for host. */
  relAddrPort?: IpAddressPort;
  extensions: IceExtension[];
}

export interface AttachReqAns {
  ufrag: Uint8Array;
  password: Uint8Array;
  /** ASCII "passive" (offerer, in the request) or "active" (answerer). */
  role: Uint8Array;
  candidates: IceCandidate[];
  sendUpdate: boolean;
}

export interface AppAttachReqAns {
  ufrag: Uint8Array;
  password: Uint8Array;
  /** Application-ID: 5060 SIP, 5061 SIPS. */
  application: number;
  role: Uint8Array;
  candidates: IceCandidate[];
}

export function readIceCandidate(r: Reader): IceCandidate {
  const addrPort = readIpAddressPort(r);
  const linkAt = r.pos;
  const overlayLink = r.u8('overlay_link');
  if (overlayLink === 0) throw r.fail('invalid OverlayLinkType 0', 'overlay_link', linkAt);
  const foundation = r.opaque(1, 0, 255, 'foundation');
  const priority = r.u32('priority');
  const typeAt = r.pos;
  const code = r.u8('type');
  const type = CAND_TYPES[code];
  if (!type) throw r.fail(`unknown CandType ${code}`, 'type', typeAt);
  const candidate: IceCandidate = { addrPort, overlayLink, foundation, priority, type, extensions: [] };
  if (type !== 'host') candidate.relAddrPort = r.named('rel_addr_port', readIpAddressPort);
  candidate.extensions = r.list(2, 0, 0xffff, 'extensions', (inner) => ({
    name: inner.opaque(2, 0, 0xffff, 'name'),
    value: inner.opaque(2, 0, 0xffff, 'value'),
  }));
  return candidate;
}

export function writeIceCandidate(w: Writer, c: IceCandidate): void {
  writeIpAddressPort(w, c.addrPort);
  if (c.overlayLink === 0) throw w.fail('invalid OverlayLinkType 0', 'overlay_link');
  w.u8(c.overlayLink, 'overlay_link');
  w.opaque(1, 0, 255, c.foundation, 'foundation');
  w.u32(c.priority, 'priority');
  const code = CAND_TYPES.indexOf(c.type);
  if (code < 1) throw w.fail(`unknown CandType ${String(c.type)}`, 'type');
  w.u8(code);
  if (c.type === 'host') {
    if (c.relAddrPort) throw w.fail('a host candidate has no related address', 'rel_addr_port');
  } else {
    if (!c.relAddrPort) throw w.fail(`a ${c.type} candidate needs a related address`, 'rel_addr_port');
    const rel = c.relAddrPort;
    w.named('rel_addr_port', () => writeIpAddressPort(w, rel));
  }
  w.list(2, 0, 0xffff, 'extensions', c.extensions, (inner, e) => {
    inner.opaque(2, 0, 0xffff, e.name, 'name');
    inner.opaque(2, 0, 0xffff, e.value, 'value');
  });
}

export function readAttachReqAns(r: Reader): AttachReqAns {
  const ufrag = r.opaque(1, 0, 255, 'ufrag');
  const password = r.opaque(1, 0, 255, 'password');
  const role = r.opaque(1, 0, 255, 'role');
  const candidates = r.list(2, 0, 0xffff, 'candidates', readIceCandidate);
  const sendUpdate = r.boolean('send_update');
  return { ufrag, password, role, candidates, sendUpdate };
}

export function writeAttachReqAns(w: Writer, a: AttachReqAns): void {
  w.opaque(1, 0, 255, a.ufrag, 'ufrag');
  w.opaque(1, 0, 255, a.password, 'password');
  w.opaque(1, 0, 255, a.role, 'role');
  w.list(2, 0, 0xffff, 'candidates', a.candidates, writeIceCandidate);
  w.boolean(a.sendUpdate, 'send_update');
}

export function readAppAttachReqAns(r: Reader): AppAttachReqAns {
  const ufrag = r.opaque(1, 0, 255, 'ufrag');
  const password = r.opaque(1, 0, 255, 'password');
  const application = r.u16('application');
  const role = r.opaque(1, 0, 255, 'role');
  const candidates = r.list(2, 0, 0xffff, 'candidates', readIceCandidate);
  return { ufrag, password, application, role, candidates };
}

export function writeAppAttachReqAns(w: Writer, a: AppAttachReqAns): void {
  w.opaque(1, 0, 255, a.ufrag, 'ufrag');
  w.opaque(1, 0, 255, a.password, 'password');
  w.u16(a.application, 'application');
  w.opaque(1, 0, 255, a.role, 'role');
  w.list(2, 0, 0xffff, 'candidates', a.candidates, writeIceCandidate);
}
