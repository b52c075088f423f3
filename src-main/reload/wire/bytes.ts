/**
 * Allocation for encoded output. A fresh ArrayBuffer costs V8 roughly 0.5–1 µs, more than encoding a whole
 * small message, so results up to 8 KiB are carved out of shared 64 KiB slabs (as Node's Buffer pool does)
 * and encoding works in reusable scratch buffers. Consequence: an encoded Uint8Array may share its
 * `.buffer` with others — use `.slice()` before transferring or structured-cloning one.
 */
const SLAB_SIZE = 64 * 1024;
const SLAB_MAX_ALLOC = 8 * 1024;

let slab = new ArrayBuffer(SLAB_SIZE);
let slabUsed = 0;

export function allocBytes(n: number): Uint8Array {
  if (n > SLAB_MAX_ALLOC) return new Uint8Array(n);
  if (slabUsed + n > SLAB_SIZE) {
    slab = new ArrayBuffer(SLAB_SIZE);
    slabUsed = 0;
  }
  const out = new Uint8Array(slab, slabUsed, n);
  slabUsed = (slabUsed + n + 7) & ~7;
  return out;
}

export function copyBytes(src: Uint8Array, start = 0, end = src.length): Uint8Array {
  const out = allocBytes(end - start);
  out.set(src.subarray(start, end));
  return out;
}

export interface Scratch {
  buf: Uint8Array;
  view: DataView;
}

const scratchPool: Scratch[] = [];

/** A working buffer for a Writer; give it back with releaseScratch when done. */
export function takeScratch(minSize: number): Scratch {
  const s = scratchPool.pop();
  if (s && s.buf.length >= minSize) return s;
  const buf = new Uint8Array(Math.max(minSize, 4096));
  return { buf, view: new DataView(buf.buffer) };
}

export function releaseScratch(s: Scratch): void {
  if (scratchPool.length < 8 && s.buf.length <= 1 << 20) scratchPool.push(s);
}
