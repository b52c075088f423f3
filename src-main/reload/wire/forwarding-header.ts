/** The forwarding header (RFC 6940 §6.3.2): 38 fixed bytes, then via list, destination list, options. */
import {
  FORWARDING_HEADER_FIXED_LENGTH,
  FRAGMENT_HISTORIC_BIT,
  PROTOCOL_VERSION,
  RELO_TOKEN,
  UNFRAGMENTED,
} from './codes';
import { readDestinations, writeDestinations, type Destination } from './destination';
import { label, type Reader } from './reader';
import { labelEncode, type Writer } from './writer';

export interface ForwardingOption {
  type: number;
  /** FORWARD_CRITICAL 0x01, DESTINATION_CRITICAL 0x02, RESPONSE_COPY 0x04, IGNORE-STATE-KEEPING 0x08. */
  flags: number;
  value: Uint8Array;
}

export interface ForwardingHeader {
  overlay: number;
  configurationSequence: number;
  version: number;
  ttl: number;
  /** 0xC0000000 for a whole message; otherwise the historic bit, the last-fragment bit and a 24-bit offset. */
  fragment: number;
  /** Total length of this (possibly fragmented) message including the header. */
  length: number;
  transactionId: bigint;
  maxResponseLength: number;
  viaList: Destination[];
  destinationList: Destination[];
  options: ForwardingOption[];
}

export function readForwardingHeader(r: Reader): ForwardingHeader {
  try {
    const tokenAt = r.pos;
    const token = r.u32('relo_token');
    if (token !== RELO_TOKEN)
      throw r.fail(`relo_token 0x${token.toString(16)} is not 0xd2454c4f`, 'relo_token', tokenAt);
    const overlay = r.u32('overlay');
    const configurationSequence = r.u16('configuration_sequence');
    const versionAt = r.pos;
    const version = r.u8('version');
    if (version !== PROTOCOL_VERSION)
      throw r.fail(`version 0x${version.toString(16)} is not 0x0a`, 'version', versionAt);
    const ttl = r.u8('ttl');
    const fragmentAt = r.pos;
    const fragment = r.u32('fragment');
    if ((fragment & FRAGMENT_HISTORIC_BIT) === 0) throw r.fail('fragment bit 31 must be set', 'fragment', fragmentAt);
    const lengthAt = r.pos;
    const length = r.u32('length');
    if (length > r.ctx.maxMessageSize) {
      throw r.fail(`message length ${length} exceeds the maximum of ${r.ctx.maxMessageSize}`, 'length', lengthAt);
    }
    const transactionId = r.u64('transaction_id');
    const maxResponseLength = r.u32('max_response_length');
    const viaLength = r.u16('via_list_length');
    const destinationLength = r.u16('destination_list_length');
    const optionsLength = r.u16('options_length');
    const headerLength = FORWARDING_HEADER_FIXED_LENGTH + viaLength + destinationLength + optionsLength;
    if (headerLength > length) {
      throw r.fail(`header of ${headerLength} bytes is longer than the message length ${length}`, 'length', lengthAt);
    }
    const viaList = readList(r, viaLength, 'via_list', readDestinations);
    const destinationList = readList(r, destinationLength, 'destination_list', readDestinations);
    if (destinationList.length === 0) throw r.fail('destination list is empty', 'destination_list');
    const options = optionsLength === 0 ? [] : readList(r, optionsLength, 'options', readForwardingOptions);
    return {
      overlay,
      configurationSequence,
      version,
      ttl,
      fragment,
      length,
      transactionId,
      maxResponseLength,
      viaList,
      destinationList,
      options,
    };
  } catch (error) {
    throw label(error, 'ForwardingHeader');
  }
}

function readList<T>(r: Reader, len: number, field: string, fn: (r: Reader) => T[]): T[] {
  try {
    const outer = r.enter(len, field);
    const list = fn(r);
    r.exit(outer);
    return list;
  } catch (error) {
    throw label(error, field);
  }
}

function readForwardingOptions(r: Reader): ForwardingOption[] {
  const out: ForwardingOption[] = [];
  while (r.pos < r.end) {
    if (out.length >= r.ctx.maxListEntries) throw r.fail(`more than ${r.ctx.maxListEntries} options`);
    out.push(
      r.named(`[${out.length}]`, () => {
        const at = r.pos;
        const type = r.u8('type');
        if (type === 0) throw r.fail('invalid ForwardingOptionType 0', 'type', at);
        const flags = r.u8('flags');
        const value = r.opaque(2, 0, 0xffff, 'option');
        return { type, flags, value };
      }),
    );
  }
  return out;
}

/**
 * Writes the header. `fragment` and `length` default to the header's own fields (a whole message; length
 * 0 for the caller to patch). Returns the offset of the length field so the caller can patch it. (Passing
 * them separately avoids copying the header object, which costs more than encoding it.)
 */
export function writeForwardingHeader(
  w: Writer,
  h: Omit<ForwardingHeader, 'fragment' | 'length'> & { fragment?: number; length?: number },
  nodeIdLength: number,
  fragment = h.fragment ?? UNFRAGMENTED,
  length = h.length ?? 0,
): number {
  try {
    w.u32(RELO_TOKEN);
    w.u32(h.overlay, 'overlay');
    w.u16(h.configurationSequence, 'configuration_sequence');
    w.u8(h.version, 'version');
    w.u8(h.ttl, 'ttl');
    if (((fragment >>> 0) & FRAGMENT_HISTORIC_BIT) === 0) throw w.fail('fragment bit 31 must be set', 'fragment');
    w.u32(fragment >>> 0, 'fragment');
    const lengthAt = w.pos;
    w.u32(length, 'length');
    w.u64(h.transactionId, 'transaction_id');
    w.u32(h.maxResponseLength, 'max_response_length');
    const lengthsAt = w.pos;
    w.u16(0);
    w.u16(0);
    w.u16(0);
    if (h.destinationList.length === 0) throw w.fail('destination list is empty', 'destination_list');
    let start = w.pos;
    writeList(w, 'via_list', h.viaList, nodeIdLength);
    patchListLength(w, lengthsAt, w.pos - start, 'via_list');
    start = w.pos;
    writeList(w, 'destination_list', h.destinationList, nodeIdLength);
    patchListLength(w, lengthsAt + 2, w.pos - start, 'destination_list');
    start = w.pos;
    for (let i = 0; i < h.options.length; i++) {
      const o = h.options[i] as ForwardingOption;
      try {
        if (o.type === 0) throw w.fail('invalid ForwardingOptionType 0', 'type');
        w.u8(o.type, 'type');
        w.u8(o.flags, 'flags');
        w.opaque(2, 0, 0xffff, o.value, 'option');
      } catch (error) {
        throw labelEncode(labelEncode(error, `[${i}]`), 'options');
      }
    }
    patchListLength(w, lengthsAt + 4, w.pos - start, 'options');
    return lengthAt;
  } catch (error) {
    throw labelEncode(error, 'ForwardingHeader');
  }
}

function writeList(w: Writer, field: string, list: readonly Destination[], nodeIdLength: number): void {
  try {
    writeDestinations(w, list, nodeIdLength);
  } catch (error) {
    throw labelEncode(error, field);
  }
}

function patchListLength(w: Writer, at: number, len: number, field: string): void {
  if (len > 0xffff) throw w.fail(`${len} bytes exceed 65535`, field);
  w.patch(at, 2, len);
}
