/**
 * A cursor over a byte array for RELOAD's TLS-style presentation language. Every read is bounds-checked
 * against the innermost enclosing length (`end`), never just the buffer; a length prefix is checked against
 * its declared range and against what remains before anything is sliced, so a lying length can neither
 * read past its structure nor make us allocate. Byte fields are returned as views into the input
 * (zero-copy): copy them if you keep them beyond the input's life.
 */
import { ReloadDecodeError } from './errors';
import type { DecodeContext } from './limits';

export type PrefixWidth = 1 | 2 | 3 | 4;

// Creating a DataView costs about as much as decoding a small structure; the body and the message it came
// from share one ArrayBuffer, so one cached view serves both.
let cachedBuffer: ArrayBufferLike | undefined;
let cachedView: DataView | undefined;
function viewOf(buffer: ArrayBufferLike): DataView {
  if (buffer !== cachedBuffer || !cachedView) {
    cachedBuffer = buffer;
    cachedView = new DataView(buffer);
  }
  return cachedView;
}

/** Adds a structure name to a decode error as it unwinds; other errors pass through untouched. */
export function label(error: unknown, name: string): unknown {
  return error instanceof ReloadDecodeError ? error.within(name) : error;
}

export class Reader {
  pos: number;
  /** Exclusive end of the innermost structure being read. */
  end: number;
  private depth = 0;
  /** A DataView over the whole ArrayBuffer (shared between readers of the same buffer), offset by `base`. */
  private readonly view: DataView;
  private readonly base: number;
  private readonly buffer: ArrayBufferLike;

  constructor(
    readonly bytes: Uint8Array,
    readonly ctx: DecodeContext,
    start = 0,
    end = bytes.length,
  ) {
    this.pos = start;
    this.end = end;
    this.buffer = bytes.buffer;
    this.base = bytes.byteOffset;
    this.view = viewOf(this.buffer);
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  fail(reason: string, field?: string, offset = this.pos): ReloadDecodeError {
    return new ReloadDecodeError(reason, offset, field ? [field] : []);
  }

  private need(n: number, field: string | undefined): void {
    if (this.end - this.pos < n) {
      throw this.fail(`needs ${n} byte${n === 1 ? '' : 's'}, ${this.end - this.pos} left`, field);
    }
  }

  u8(field?: string): number {
    this.need(1, field);
    return this.bytes[this.pos++] as number;
  }

  u16(field?: string): number {
    this.need(2, field);
    const v = this.view.getUint16(this.base + this.pos);
    this.pos += 2;
    return v;
  }

  u24(field?: string): number {
    this.need(3, field);
    const v = (this.view.getUint16(this.base + this.pos) << 8) | (this.bytes[this.pos + 2] as number);
    this.pos += 3;
    return v;
  }

  u32(field?: string): number {
    this.need(4, field);
    const v = this.view.getUint32(this.base + this.pos);
    this.pos += 4;
    return v;
  }

  u64(field?: string): bigint {
    this.need(8, field);
    const v = this.view.getBigUint64(this.base + this.pos);
    this.pos += 8;
    return v;
  }

  boolean(field?: string): boolean {
    const at = this.pos;
    const v = this.u8(field);
    if (v > 1) throw this.fail(`Boolean must be 0 or 1, got ${v}`, field, at);
    return v === 1;
  }

  /** Fixed-size field: exactly n bytes, no prefix. */
  fixed(n: number, field?: string): Uint8Array {
    this.need(n, field);
    const v = new Uint8Array(this.buffer, this.base + this.pos, n);
    this.pos += n;
    return v;
  }

  /** Reads a length prefix and checks it against the declared range and the bytes left. */
  length(width: PrefixWidth, min: number, max: number, field?: string): number {
    const at = this.pos;
    const len =
      width === 1 ? this.u8(field) : width === 2 ? this.u16(field) : width === 3 ? this.u24(field) : this.u32(field);
    if (len < min || len > max) throw this.fail(`length ${len} outside ${min}..${max}`, field, at);
    if (len > this.end - this.pos)
      throw this.fail(`length ${len} exceeds the ${this.end - this.pos} bytes left`, field, at);
    return len;
  }

  /** opaque x<min..max>: the prefix width follows from max. */
  opaque(width: PrefixWidth, min: number, max: number, field?: string): Uint8Array {
    const at = this.pos;
    if (this.end - at < width) throw this.fail(`needs ${width} bytes, ${this.end - at} left`, field);
    const b = this.bytes;
    let len = b[at] as number;
    if (width >= 2) len = (len << 8) | (b[at + 1] as number);
    if (width >= 3) len = (len << 8) | (b[at + 2] as number);
    if (width === 4) len = len * 256 + (b[at + 3] as number); // multiply, not shift: stays unsigned
    const start = at + width;
    if (len < min || len > max) throw this.fail(`length ${len} outside ${min}..${max}`, field, at);
    if (len > this.end - start) throw this.fail(`length ${len} exceeds the ${this.end - start} bytes left`, field, at);
    this.pos = start + len;
    return new Uint8Array(this.buffer, this.base + start, len);
  }

  /**
   * A length-delimited structure: `fn` must consume exactly the declared bytes (trailing bytes are an error).
   * Errors from inside are labelled with `field`.
   */
  block<T>(width: PrefixWidth, min: number, max: number, field: string, fn: (r: Reader) => T): T {
    const len = this.length(width, min, max, field);
    return this.within(len, field, fn);
  }

  /**
   * Closure-free form of `within` for hot paths: narrows the reader to the next `len` bytes and returns the
   * outer end, which `exit` restores after checking everything was consumed. Callers label errors.
   */
  enter(len: number, field: string): number {
    const outerEnd = this.end;
    if (len > outerEnd - this.pos)
      throw this.fail(`length ${len} exceeds the ${outerEnd - this.pos} bytes left`, field);
    if (++this.depth > this.ctx.maxDepth) throw this.fail(`nesting deeper than ${this.ctx.maxDepth}`, field);
    this.end = this.pos + len;
    return outerEnd;
  }

  exit(outerEnd: number): void {
    if (this.pos !== this.end) throw this.fail(`${this.end - this.pos} unexpected trailing bytes`);
    this.end = outerEnd;
    this.depth--;
  }

  /** Decodes `fn` over the next `len` bytes, which must all be consumed. */
  within<T>(len: number, field: string, fn: (r: Reader) => T): T {
    const outerEnd = this.end;
    const innerEnd = this.pos + len;
    if (innerEnd > outerEnd) throw this.fail(`length ${len} exceeds the ${outerEnd - this.pos} bytes left`, field);
    if (++this.depth > this.ctx.maxDepth) throw this.fail(`nesting deeper than ${this.ctx.maxDepth}`, field);
    this.end = innerEnd;
    try {
      const value = fn(this);
      if (this.pos !== innerEnd) throw this.fail(`${innerEnd - this.pos} unexpected trailing bytes`);
      return value;
    } catch (error) {
      throw error instanceof ReloadDecodeError ? error.within(field) : error;
    } finally {
      this.end = outerEnd;
      this.depth--;
    }
  }

  /** A vector of structures: the prefix counts bytes; elements follow until they are used up. */
  list<T>(width: PrefixWidth, min: number, max: number, field: string, fn: (r: Reader) => T): T[] {
    const out: T[] = [];
    try {
      const outer = this.enter(this.length(width, min, max), field);
      while (this.pos < this.end) {
        if (out.length >= this.ctx.maxListEntries) throw this.fail(`more than ${this.ctx.maxListEntries} entries`);
        const before = this.pos;
        try {
          out.push(fn(this));
        } catch (error) {
          throw label(error, `[${out.length}]`);
        }
        // An element that consumes nothing would loop forever on hostile input.
        if (this.pos === before) throw this.fail(`entry [${out.length - 1}] consumed no bytes`);
      }
      this.exit(outer);
    } catch (error) {
      throw label(error, field);
    }
    return out;
  }

  /** Labels errors raised by `fn` with a structure name. */
  named<T>(name: string, fn: (r: Reader) => T): T {
    try {
      return fn(this);
    } catch (error) {
      throw error instanceof ReloadDecodeError ? error.within(name) : error;
    }
  }

  /** The whole input must have been consumed. */
  done(what: string): void {
    if (this.pos !== this.end) throw this.fail(`${this.end - this.pos} unexpected trailing bytes after ${what}`);
  }
}
