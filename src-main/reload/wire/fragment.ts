/**
 * Fragmentation (RFC 6940 §6.7). Any hop may split a message (or a fragment) for a link's MTU; only the
 * destination reassembles. Each fragment repeats the forwarding header and carries a slice of what follows
 * it, at least 256 bytes. The reassembler is pure state: the caller passes the current time, so it runs
 * the same under a real and a virtual clock.
 */
import { allocBytes } from './bytes';
import { FRAGMENT_HISTORIC_BIT, FRAGMENT_LAST_BIT, FRAGMENT_OFFSET_MASK, UNFRAGMENTED } from './codes';
import { ReloadEncodeError } from './errors';
import { toHex } from './ids';
import type { DecodeContext } from './limits';
import { decodeHeader } from './message';

export const MIN_FRAGMENT_PAYLOAD = 256;

/**
 * Splits `message` into fragments of at most `maxFragmentSize` bytes each (header included), in equal
 * slices. A message that already fits is returned as is.
 */
export function fragmentMessage(message: Uint8Array, maxFragmentSize: number, ctx: DecodeContext): Uint8Array[] {
  if (message.length <= maxFragmentSize) return [message];
  const { header, headerLength } = decodeHeader(message, ctx);
  const payload = message.length - headerLength;
  const room = maxFragmentSize - headerLength;
  if (room < MIN_FRAGMENT_PAYLOAD) {
    throw new ReloadEncodeError(
      `a ${maxFragmentSize}-byte MTU leaves ${room} bytes after the ${headerLength}-byte header; RELOAD fragments carry at least ${MIN_FRAGMENT_PAYLOAD} (leave it to IP)`,
      ['fragment'],
    );
  }
  // The fewest pieces that fit, balanced so their sizes differ by at most one byte. A ceil-sized slice
  // for every piece but the last could leave the last one far below 256 bytes.
  const count = Math.ceil(payload / room);
  const base = Math.floor(payload / count);
  const longer = payload % count;
  const baseOffset = header.fragment & FRAGMENT_OFFSET_MASK;
  const originalIsLast = (header.fragment & FRAGMENT_LAST_BIT) !== 0;
  if (baseOffset + payload > FRAGMENT_OFFSET_MASK)
    throw new ReloadEncodeError('fragment offset exceeds 24 bits', ['fragment']);
  const out: Uint8Array[] = [];
  let start = headerLength;
  for (let i = 0; i < count; i++) {
    const end = start + base + (i < longer ? 1 : 0);
    const piece = allocBytes(headerLength + (end - start));
    piece.set(message.subarray(0, headerLength));
    piece.set(message.subarray(start, end), headerLength);
    const view = new DataView(piece.buffer, piece.byteOffset, piece.length);
    const isLast = i === count - 1 && originalIsLast;
    view.setUint32(
      12,
      (FRAGMENT_HISTORIC_BIT | (isLast ? FRAGMENT_LAST_BIT : 0) | (baseOffset + start - headerLength)) >>> 0,
    );
    view.setUint32(16, piece.length);
    out.push(piece);
    start = end;
  }
  return out;
}

export type ReassemblyResult =
  | { status: 'complete'; message: Uint8Array }
  | { status: 'pending' }
  /** A fragment of a message completed moments ago (a retransmitted or duplicated datagram). */
  | { status: 'duplicate' }
  | { status: 'dropped'; reason: string };

export interface ReassemblerOptions {
  /** Incomplete sets are discarded after this long (RFC 6940: 15 s). */
  timeoutMs?: number;
  /** All buffered fragment bytes together; past it new sets are dropped (the RFC's "MUST drop"). */
  maxBufferedBytes?: number;
}

interface PartialMessage {
  header: Uint8Array | undefined;
  pieces: Map<number, Uint8Array>;
  total: number | undefined;
  bytes: number;
  deadline: number;
}

export class Reassembler {
  private readonly pending = new Map<string, PartialMessage>();
  /** Recently completed sets, so late duplicates do not start a new one; bounded like `pending`. */
  private readonly completed = new Map<string, number>();
  private buffered = 0;
  private readonly timeoutMs: number;
  private readonly maxBufferedBytes: number;

  constructor(
    private readonly ctx: DecodeContext,
    options: ReassemblerOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 15_000;
    this.maxBufferedBytes = options.maxBufferedBytes ?? 64 * ctx.maxMessageSize;
  }

  get bufferedBytes(): number {
    return this.buffered;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Feeds one fragment (already header-checked bytes of a whole datagram). */
  add(fragment: Uint8Array, nowMs: number): ReassemblyResult {
    this.purge(nowMs);
    const { header, headerLength } = decodeHeader(fragment, this.ctx);
    if (header.fragment === UNFRAGMENTED) return { status: 'complete', message: fragment };
    const key = `${header.overlay}:${header.transactionId}`;
    if (this.completed.has(key)) return { status: 'duplicate' };
    const offset = header.fragment & FRAGMENT_OFFSET_MASK;
    const data = fragment.subarray(headerLength);
    let entry = this.pending.get(key);
    if (!entry) {
      entry = { header: undefined, pieces: new Map(), total: undefined, bytes: 0, deadline: nowMs + this.timeoutMs };
      this.pending.set(key, entry);
    }
    const drop = (reason: string): ReassemblyResult => {
      this.forget(key);
      return { status: 'dropped', reason: `${reason} (transaction ${toHex(bigintBytes(header.transactionId))})` };
    };
    const existing = entry.pieces.get(offset);
    if (existing)
      return existing.length === data.length ? { status: 'pending' } : drop('conflicting duplicate fragment');
    if (offset + data.length > this.ctx.maxMessageSize)
      return drop('reassembled message would exceed max-message-size');
    if (this.buffered + data.length > this.maxBufferedBytes) return drop('reassembly buffer full');
    if (header.fragment & FRAGMENT_LAST_BIT) {
      if (entry.total !== undefined && entry.total !== offset + data.length)
        return drop('two different last fragments');
      entry.total = offset + data.length;
    }
    for (const [o, piece] of entry.pieces) {
      if (offset < o + piece.length && o < offset + data.length) return drop('overlapping fragments');
    }
    entry.pieces.set(offset, data);
    entry.bytes += data.length;
    this.buffered += data.length;
    if (offset === 0) entry.header = fragment.subarray(0, headerLength);
    if (entry.total === undefined || entry.bytes !== entry.total || !entry.header) return { status: 'pending' };
    const whole = allocBytes(entry.header.length + entry.total);
    whole.set(entry.header);
    for (const [o, piece] of entry.pieces) whole.set(piece, entry.header.length + o);
    const view = new DataView(whole.buffer, whole.byteOffset, whole.length);
    view.setUint32(12, UNFRAGMENTED);
    view.setUint32(16, whole.length);
    this.forget(key);
    this.completed.set(key, nowMs + this.timeoutMs);
    if (this.completed.size > 4096) this.completed.delete(this.completed.keys().next().value as string);
    return { status: 'complete', message: whole };
  }

  /** Discards sets whose deadline passed. */
  purge(nowMs: number): number {
    for (const [key, deadline] of this.completed) if (deadline <= nowMs) this.completed.delete(key);
    let removed = 0;
    for (const [key, entry] of this.pending) {
      if (entry.deadline <= nowMs) {
        this.forget(key);
        removed++;
      }
    }
    return removed;
  }

  private forget(key: string): void {
    const entry = this.pending.get(key);
    if (!entry) return;
    this.buffered -= entry.bytes;
    this.pending.delete(key);
  }
}

function bigintBytes(v: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, v);
  return out;
}
