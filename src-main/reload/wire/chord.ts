/** CHORD-RELOAD's overlay-specific structures (RFC 6940 §10): Update, RouteQuery answer, Leave data. */
import { readNodeId, readNodeIdList, writeNodeId, writeNodeIdList, type NodeId } from './ids';
import type { Reader } from './reader';
import type { Writer } from './writer';

export type ChordUpdate =
  | { uptime: number; type: 'peer_ready' }
  | { uptime: number; type: 'neighbors'; predecessors: NodeId[]; successors: NodeId[] }
  | { uptime: number; type: 'full'; predecessors: NodeId[]; successors: NodeId[]; fingers: NodeId[] };

export interface ChordRouteQueryAns {
  nextPeer: NodeId;
}

export type ChordLeaveData =
  { type: 'from_succ'; successors: NodeId[] } | { type: 'from_pred'; predecessors: NodeId[] };

export function readChordUpdate(r: Reader): ChordUpdate {
  const uptime = r.u32('uptime');
  const at = r.pos;
  const type = r.u8('type');
  if (type === 1) return { uptime, type: 'peer_ready' };
  if (type === 2 || type === 3) {
    const predecessors = readNodeIdList(r, 'predecessors');
    const successors = readNodeIdList(r, 'successors');
    if (type === 2) return { uptime, type: 'neighbors', predecessors, successors };
    return { uptime, type: 'full', predecessors, successors, fingers: readNodeIdList(r, 'fingers') };
  }
  throw r.fail(`unknown ChordUpdateType ${type}`, 'type', at);
}

export function writeChordUpdate(w: Writer, u: ChordUpdate, nodeIdLength: number): void {
  w.u32(u.uptime, 'uptime');
  switch (u.type) {
    case 'peer_ready':
      w.u8(1);
      return;
    case 'neighbors':
    case 'full':
      w.u8(u.type === 'neighbors' ? 2 : 3);
      writeNodeIdList(w, u.predecessors, nodeIdLength, 'predecessors');
      writeNodeIdList(w, u.successors, nodeIdLength, 'successors');
      if (u.type === 'full') writeNodeIdList(w, u.fingers, nodeIdLength, 'fingers');
      return;
    default:
      throw w.fail(`unknown ChordUpdateType ${String((u as { type: unknown }).type)}`, 'type');
  }
}

export function readChordRouteQueryAns(r: Reader): ChordRouteQueryAns {
  return { nextPeer: readNodeId(r, 'next_peer') };
}

export function writeChordRouteQueryAns(w: Writer, a: ChordRouteQueryAns, nodeIdLength: number): void {
  writeNodeId(w, a.nextPeer, nodeIdLength, 'next_peer');
}

export function readChordLeaveData(r: Reader): ChordLeaveData {
  const at = r.pos;
  const type = r.u8('type');
  if (type === 1) return { type: 'from_succ', successors: readNodeIdList(r, 'successors') };
  if (type === 2) return { type: 'from_pred', predecessors: readNodeIdList(r, 'predecessors') };
  throw r.fail(`unknown ChordLeaveType ${type}`, 'type', at);
}

export function writeChordLeaveData(w: Writer, l: ChordLeaveData, nodeIdLength: number): void {
  if (l.type === 'from_succ') {
    w.u8(1);
    writeNodeIdList(w, l.successors, nodeIdLength, 'successors');
  } else if (l.type === 'from_pred') {
    w.u8(2);
    writeNodeIdList(w, l.predecessors, nodeIdLength, 'predecessors');
  } else {
    throw w.fail('unknown ChordLeaveType', 'type');
  }
}
