/**
 * CHORD-RELOAD ring arithmetic (RFC 6940 §10.1): IDs are unsigned big-endian integers modulo 2^bits
 * (128 for Node-IDs and Resource-IDs). Everything here is pure.
 */

export class RingIdError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RingIdError';
  }
}

export class Ring {
  readonly size: bigint;
  readonly bytes: number;

  constructor(readonly bits = 128) {
    if (bits <= 0 || bits % 8 !== 0) throw new RingIdError(`ring bits must be a positive multiple of 8, got ${bits}`);
    this.size = 1n << BigInt(bits);
    this.bytes = bits / 8;
  }

  toBig(id: Uint8Array): bigint {
    if (id.length !== this.bytes) throw new RingIdError(`an ID on this ring has ${this.bytes} bytes, got ${id.length}`);
    let v = 0n;
    for (const b of id) v = (v << 8n) | BigInt(b);
    return v;
  }

  fromBig(value: bigint): Uint8Array {
    let v = ((value % this.size) + this.size) % this.size;
    const out = new Uint8Array(this.bytes);
    for (let i = this.bytes - 1; i >= 0; i--) {
      out[i] = Number(v & 0xffn);
      v >>= 8n;
    }
    return out;
  }

  add(a: bigint, b: bigint): bigint {
    return (((a + b) % this.size) + this.size) % this.size;
  }

  /** Clockwise distance from `from` to `to` (0 when equal). */
  distance(from: bigint, to: bigint): bigint {
    return (((to - from) % this.size) + this.size) % this.size;
  }

  /** Is k in the half-open arc (from, to]? With from == to the arc is the whole ring. */
  inArc(k: bigint, from: bigint, to: bigint): boolean {
    if (from === to) return true;
    const d = this.distance(from, k);
    return d !== 0n && d <= this.distance(from, to);
  }

  /** A uniformly random ID in [0, bound), from a source of random numbers in [0, 1). */
  randomBelow(bound: bigint, random: () => number): bigint {
    if (bound <= 0n) return 0n;
    let v = 0n;
    for (let bits = 0; bits < this.bits + 32; bits += 32) v = (v << 32n) | BigInt(Math.floor(random() * 2 ** 32));
    return v % bound;
  }

  /**
   * The range finger i (1-based) covers for node x: [x + 2^(bits−i), x + 2^(bits−i+1) − 1] (RFC 6940 §10.1;
   * finger 1 is about half way round).
   */
  fingerRange(x: bigint, i: number): { start: bigint; end: bigint } {
    if (!Number.isInteger(i) || i < 1 || i > this.bits)
      throw new RingIdError(`finger index must be 1..${this.bits}, got ${i}`);
    const low = 1n << BigInt(this.bits - i);
    return { start: this.add(x, low), end: this.add(x, 2n * low - 1n) };
  }
}
