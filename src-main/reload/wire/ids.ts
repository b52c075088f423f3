/** Node-IDs, Resource-IDs and the byte helpers every structure uses. */
import type { Reader } from './reader';
import type { Writer } from './writer';

export type NodeId = Uint8Array;
export type ResourceId = Uint8Array;

export function readNodeId(r: Reader, field = 'node_id'): NodeId {
  return r.fixed(r.ctx.nodeIdLength, field);
}

export function writeNodeId(w: Writer, id: NodeId, nodeIdLength: number, field = 'node_id'): void {
  w.fixed(id, nodeIdLength, field);
}

/** ResourceId: opaque<0..2^8-1> (1-byte length prefix). */
export function readResourceId(r: Reader, field = 'resource_id'): ResourceId {
  return r.opaque(1, 0, 255, field);
}

export function writeResourceId(w: Writer, id: ResourceId, field = 'resource_id'): void {
  w.opaque(1, 0, 255, id, field);
}

/** A list of NodeIds counted in bytes (Chord neighbour lists, StoreAns replicas). */
export function readNodeIdList(r: Reader, field: string): NodeId[] {
  return r.list(2, 0, 0xffff, field, (inner) => inner.fixed(inner.ctx.nodeIdLength, 'node_id'));
}

export function writeNodeIdList(w: Writer, ids: readonly NodeId[], nodeIdLength: number, field: string): void {
  w.list(2, 0, 0xffff, field, ids, (inner, id) => inner.fixed(id, nodeIdLength, 'node_id'));
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i] as number];
  return out;
}

export class HexError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'HexError';
  }
}

export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex))
    throw new HexError(`not an even-length hex string: "${hex.slice(0, 40)}"`);
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
