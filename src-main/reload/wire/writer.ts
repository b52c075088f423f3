/**
 * The encoding side: a growable buffer with big-endian writers. Length prefixes are reserved, the content
 * written, and the prefix patched, so nested structures are encoded in one pass. Every value is checked
 * against its field's width or declared range; a violation is a ReloadEncodeError naming the field.
 */
import { allocBytes, releaseScratch, takeScratch, type Scratch } from './bytes';
import { ReloadEncodeError } from './errors';
import type { PrefixWidth } from './reader';

const PREFIX_MAX = [0, 0xff, 0xffff, 0xffffff, 0xffffffff] as const;
const U64_MAX = (1n << 64n) - 1n;

export class Writer {
  private scratch: Scratch;
  private buf: Uint8Array;
  private view: DataView;
  pos = 0;

  /** Works in a pooled scratch buffer; `finish()` copies the result out and returns the scratch. */
  constructor(initialSize = 1024) {
    this.scratch = takeScratch(initialSize);
    this.buf = this.scratch.buf;
    this.view = this.scratch.view;
  }

  fail(reason: string, field?: string): ReloadEncodeError {
    return new ReloadEncodeError(reason, field ? [field] : []);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
    this.scratch = { buf: next, view: this.view };
  }

  private uint(value: number, max: number, field: string | undefined): void {
    if (!Number.isInteger(value) || value < 0 || value > max) {
      throw this.fail(`${String(value)} is not an integer in 0..${max}`, field);
    }
  }

  // Range checks by masking: one AND rejects fractions, negatives, NaN and out-of-range values alike.
  u8(value: number, field?: string): void {
    if ((value & 0xff) !== value) this.uint(value, 0xff, field);
    this.ensure(1);
    this.buf[this.pos++] = value;
  }

  u16(value: number, field?: string): void {
    if ((value & 0xffff) !== value) this.uint(value, 0xffff, field);
    this.ensure(2);
    this.view.setUint16(this.pos, value);
    this.pos += 2;
  }

  u24(value: number, field?: string): void {
    if ((value & 0xffffff) !== value) this.uint(value, 0xffffff, field);
    this.ensure(3);
    this.view.setUint16(this.pos, value >>> 8);
    this.buf[this.pos + 2] = value & 0xff;
    this.pos += 3;
  }

  u32(value: number, field?: string): void {
    if (value >>> 0 !== value) this.uint(value, 0xffffffff, field);
    this.ensure(4);
    this.view.setUint32(this.pos, value);
    this.pos += 4;
  }

  u64(value: bigint, field?: string): void {
    if (typeof value !== 'bigint' || value < 0n || value > U64_MAX) {
      throw this.fail(`${String(value)} is not a uint64`, field);
    }
    this.ensure(8);
    this.view.setBigUint64(this.pos, value);
    this.pos += 8;
  }

  boolean(value: boolean, field?: string): void {
    if (typeof value !== 'boolean') throw this.fail('must be a boolean', field);
    this.ensure(1);
    this.buf[this.pos++] = value ? 1 : 0;
  }

  /** Fixed-size field: exactly n bytes. */
  fixed(bytes: Uint8Array, n: number, field?: string): void {
    if (!(bytes instanceof Uint8Array) || bytes.length !== n) {
      throw this.fail(
        `must be exactly ${n} bytes (got ${bytes instanceof Uint8Array ? bytes.length : typeof bytes})`,
        field,
      );
    }
    this.raw(bytes);
  }

  /** Bytes with no prefix (already-encoded data). */
  raw(bytes: Uint8Array): void {
    const n = bytes.length;
    this.ensure(n);
    // TypedArray.set has a fixed cost that dominates for the short fields RELOAD is full of.
    if (n < 48) {
      const buf = this.buf;
      let p = this.pos;
      for (let i = 0; i < n; i++) buf[p++] = bytes[i] as number;
    } else {
      this.buf.set(bytes, this.pos);
    }
    this.pos += n;
  }

  opaque(width: PrefixWidth, min: number, max: number, bytes: Uint8Array, field?: string): void {
    if (!(bytes instanceof Uint8Array)) throw this.fail('must be bytes', field);
    const n = bytes.length;
    const hi = PREFIX_MAX[width] < max ? PREFIX_MAX[width] : max;
    if (n < min || n > hi) throw this.fail(`length ${n} outside ${min}..${hi}`, field);
    this.ensure(width + n);
    // Written inline: this runs for nearly every field of every message.
    const buf = this.buf;
    let p = this.pos;
    if (width === 4) buf[p++] = n >>> 24;
    if (width >= 3) buf[p++] = (n >>> 16) & 0xff;
    if (width >= 2) buf[p++] = (n >>> 8) & 0xff;
    buf[p++] = n & 0xff;
    if (n < 48) {
      for (let i = 0; i < n; i++) buf[p++] = bytes[i] as number;
    } else {
      buf.set(bytes, p);
      p += n;
    }
    this.pos = p;
  }

  /** Closure-free form of `block`: reserves a length prefix and returns its position for `close`. */
  open(width: PrefixWidth): number {
    this.ensure(width);
    const at = this.pos;
    this.pos += width;
    return at;
  }

  close(at: number, width: PrefixWidth, min: number, max: number, field: string): void {
    const len = this.pos - at - width;
    this.checkLength(len, width, min, max, field);
    this.patch(at, width, len);
  }

  /** Reserves a length prefix, runs `fn`, then patches the prefix with the byte count written. */
  block(width: PrefixWidth, min: number, max: number, field: string, fn: (w: Writer) => void): void {
    this.ensure(width);
    const at = this.pos;
    this.pos += width;
    try {
      fn(this);
    } catch (error) {
      throw error instanceof ReloadEncodeError ? error.within(field) : error;
    }
    const len = this.pos - at - width;
    this.checkLength(len, width, min, max, field);
    this.patch(at, width, len);
  }

  list<T>(
    width: PrefixWidth,
    min: number,
    max: number,
    field: string,
    items: readonly T[],
    fn: (w: Writer, item: T) => void,
  ): void {
    if (!Array.isArray(items)) throw this.fail('must be a list', field);
    const at = this.open(width);
    try {
      for (let i = 0; i < items.length; i++) {
        try {
          fn(this, items[i] as T);
        } catch (error) {
          throw labelEncode(error, `[${i}]`);
        }
      }
    } catch (error) {
      throw labelEncode(error, field);
    }
    this.close(at, width, min, max, field);
  }

  named(name: string, fn: () => void): void {
    try {
      fn();
    } catch (error) {
      throw error instanceof ReloadEncodeError ? error.within(name) : error;
    }
  }

  /** Overwrites a previously written field (e.g. the header's total length). */
  patch(at: number, width: PrefixWidth, value: number): void {
    if (width === 1) this.buf[at] = value;
    else if (width === 2) this.view.setUint16(at, value);
    else if (width === 3) {
      this.view.setUint16(at, value >>> 8);
      this.buf[at + 2] = value & 0xff;
    } else this.view.setUint32(at, value);
  }

  /** A view of bytes already written; valid only until the next write (the buffer may move). */
  written(start: number, end: number): Uint8Array {
    return this.buf.subarray(start, end);
  }

  /** A copy of what was written, sized exactly. The writer must not be used afterwards. */
  finish(): Uint8Array {
    const out = allocBytes(this.pos);
    out.set(this.buf.subarray(0, this.pos));
    releaseScratch(this.scratch);
    return out;
  }

  private checkLength(len: number, width: PrefixWidth, min: number, max: number, field: string | undefined): void {
    const hi = Math.min(max, PREFIX_MAX[width]);
    if (len < min || len > hi) throw this.fail(`length ${len} outside ${min}..${hi}`, field);
  }

  private prefix(width: PrefixWidth, len: number): void {
    this.ensure(width);
    this.patch(this.pos, width, len);
    this.pos += width;
  }
}

/** Adds a field name to an encode error as it unwinds. */
export function labelEncode(error: unknown, name: string): unknown {
  return error instanceof ReloadEncodeError ? error.within(name) : error;
}

/** Encodes one structure into a fresh, exactly sized byte array. */
export function encodeWith<T>(encode: (w: Writer, value: T) => void, value: T, sizeHint = 256): Uint8Array {
  const w = new Writer(sizeHint);
  encode(w, value);
  return w.finish();
}
