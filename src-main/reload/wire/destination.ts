/**
 * Destination (RFC 6940 §6.3.2.2): the compressed 2-byte opaque form (first bit 1) or a type/length/value
 * form. Each wire form has its own variant so that decode(encode(x)) is exact.
 */
import type { NodeId, ResourceId } from './ids';
import { label, type Reader } from './reader';
import { labelEncode, type Writer } from './writer';

export type Destination =
  | { type: 'node'; id: NodeId }
  | { type: 'resource'; id: ResourceId }
  /** TLV opaque_id_type (3): an opaque id with its own 1-byte length. */
  | { type: 'opaque'; id: Uint8Array }
  /** The 2-byte compressed form; `id` is the whole uint16 and has its top bit set (0x8000..0xffff). */
  | { type: 'compressed'; id: number }
  /** A TLV type this implementation does not know (4..127); skipped via its length, kept verbatim. */
  | { type: 'unknown'; code: number; data: Uint8Array };

const NODE = 1;
const RESOURCE = 2;
const OPAQUE = 3;

export function readDestination(r: Reader): Destination {
  if (r.pos < r.end && ((r.bytes[r.pos] as number) & 0x80) !== 0) {
    return { type: 'compressed', id: r.u16('opaque_id') };
  }
  const at = r.pos;
  const code = r.u8('type');
  if (code === 0) throw r.fail('invalid DestinationType 0', 'type', at);
  const len = r.u8('length');
  const outer = r.enter(len, 'destination_data');
  let d: Destination;
  try {
    if (code === NODE) {
      if (len !== r.ctx.nodeIdLength) {
        throw r.fail(`node destination must be ${r.ctx.nodeIdLength} bytes, not ${len}`, 'node_id');
      }
      d = { type: 'node', id: r.fixed(len, 'node_id') };
    } else if (code === RESOURCE) {
      d = { type: 'resource', id: r.opaque(1, 0, 255, 'resource_id') };
    } else if (code === OPAQUE) {
      d = { type: 'opaque', id: r.opaque(1, 0, 255, 'opaque_id') };
    } else {
      d = { type: 'unknown', code, data: r.fixed(len, 'data') };
    }
    r.exit(outer);
  } catch (error) {
    throw label(error, 'destination_data');
  }
  return d;
}

export function writeDestination(w: Writer, d: Destination, nodeIdLength: number): void {
  let at: number;
  switch (d.type) {
    case 'compressed':
      if (d.id < 0x8000 || d.id > 0xffff) throw w.fail('compressed opaque id must be 0x8000..0xffff', 'opaque_id');
      w.u16(d.id, 'opaque_id');
      return;
    case 'node':
      w.u8(NODE);
      at = w.open(1);
      w.fixed(d.id, nodeIdLength, 'node_id');
      break;
    case 'resource':
      w.u8(RESOURCE);
      at = w.open(1);
      w.opaque(1, 0, 254, d.id, 'resource_id');
      break;
    case 'opaque':
      w.u8(OPAQUE);
      at = w.open(1);
      w.opaque(1, 0, 254, d.id, 'opaque_id');
      break;
    case 'unknown':
      if (d.code < 4 || d.code > 127) throw w.fail('unknown DestinationType must be 4..127', 'type');
      w.u8(d.code);
      w.opaque(1, 0, 255, d.data, 'destination_data');
      return;
    default:
      throw w.fail(`unknown destination variant ${String((d as { type: unknown }).type)}`, 'type');
  }
  w.close(at, 1, 0, 255, 'destination_data');
}

/** A destination or via list body (no length prefix of its own: the header carries the lengths). */
export function readDestinations(r: Reader): Destination[] {
  const out: Destination[] = [];
  while (r.pos < r.end) {
    if (out.length >= r.ctx.maxListEntries) throw r.fail(`more than ${r.ctx.maxListEntries} destinations`);
    try {
      out.push(readDestination(r));
    } catch (error) {
      throw label(error, `[${out.length}]`);
    }
  }
  return out;
}

export function writeDestinations(w: Writer, list: readonly Destination[], nodeIdLength: number): void {
  for (let i = 0; i < list.length; i++) {
    try {
      writeDestination(w, list[i] as Destination, nodeIdLength);
    } catch (error) {
      throw labelEncode(error, `[${i}]`);
    }
  }
}
