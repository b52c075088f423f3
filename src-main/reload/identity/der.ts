/**
 * A minimal DER reader for the few structures read by hand here (subjectAltName, the outer signature
 * algorithm of a certificate or CSR, encrypted PKCS#8): single-byte tags, definite lengths, bounds checked
 * against the parent. Throws plain Errors; callers turn them into their own typed errors.
 */

export interface DerElement {
  tag: number;
  /** Where the contents start and end (exclusive) in the buffer. */
  start: number;
  end: number;
}

export const DER = {
  INTEGER: 0x02,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  SEQUENCE: 0x30,
} as const;

/** One DER element at `offset`, which must end by `end`. */
export function derElement(der: Uint8Array, offset: number, end: number): DerElement {
  if (offset + 2 > end) throw new Error('truncated DER');
  const tag = der[offset] as number;
  if ((tag & 0x1f) === 0x1f) throw new Error('multi-byte DER tag');
  let length = der[offset + 1] as number;
  let start = offset + 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    if (bytes === 0 || bytes > 4 || start + bytes > end) throw new Error('unsupported DER length');
    length = 0;
    for (let i = 0; i < bytes; i++) length = length * 256 + (der[start + i] as number);
    start += bytes;
  }
  if (start + length > end) throw new Error('a DER element overruns its parent');
  return { tag, start, end: start + length };
}

/** The element at `offset` that must carry `tag`. */
export function derExpect(der: Uint8Array, offset: number, end: number, tag: number, what: string): DerElement {
  const e = derElement(der, offset, end);
  if (e.tag !== tag) throw new Error(`${what}: expected DER tag 0x${tag.toString(16)}, found 0x${e.tag.toString(16)}`);
  return e;
}

/** The children of a constructed element. */
export function derChildren(der: Uint8Array, parent: DerElement): DerElement[] {
  const out: DerElement[] = [];
  for (let p = parent.start; p < parent.end;) {
    const child = derElement(der, p, parent.end);
    out.push(child);
    p = child.end;
  }
  return out;
}

/** Dotted text of an OBJECT IDENTIFIER's contents. */
export function derOid(der: Uint8Array, e: DerElement): string {
  if (e.tag !== DER.OID || e.end <= e.start) throw new Error('expected an OBJECT IDENTIFIER');
  const arcs: number[] = [];
  let value = 0;
  for (let i = e.start; i < e.end; i++) {
    const byte = der[i] as number;
    if (value > 0x1ffffff) throw new Error('OBJECT IDENTIFIER arc too large');
    value = value * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      if (arcs.length === 0) arcs.push(value < 80 ? Math.floor(value / 40) : 2, value < 80 ? value % 40 : value - 80);
      else arcs.push(value);
      value = 0;
    }
  }
  if ((der[e.end - 1] as number) & 0x80) throw new Error('truncated OBJECT IDENTIFIER');
  return arcs.join('.');
}

/** A non-negative INTEGER that fits a JS number. */
export function derSmallInteger(der: Uint8Array, e: DerElement): number {
  if (e.tag !== DER.INTEGER || e.end <= e.start || e.end - e.start > 7) throw new Error('expected a small INTEGER');
  if ((der[e.start] as number) & 0x80) throw new Error('expected a non-negative INTEGER');
  let value = 0;
  for (let i = e.start; i < e.end; i++) value = value * 256 + (der[i] as number);
  return value;
}

/** DER encoding of one element (the writer side of the above). */
export function derEncode(tag: number, ...contents: Uint8Array[]): Uint8Array {
  const length = contents.reduce((n, c) => n + c.length, 0);
  const head =
    length < 0x80
      ? [tag, length]
      : length < 0x100
        ? [tag, 0x81, length]
        : length < 0x10000
          ? [tag, 0x82, length >> 8, length & 0xff]
          : [tag, 0x83, length >> 16, (length >> 8) & 0xff, length & 0xff];
  const out = new Uint8Array(head.length + length);
  out.set(head, 0);
  let p = head.length;
  for (const c of contents) {
    out.set(c, p);
    p += c.length;
  }
  return out;
}

export function derEncodeOid(oid: string): Uint8Array {
  const arcs = oid.split('.').map(Number);
  const values = [(arcs[0] as number) * 40 + (arcs[1] as number), ...arcs.slice(2)];
  const bytes: number[] = [];
  for (const v of values) {
    const chunk = [v & 0x7f];
    for (let rest = Math.floor(v / 128); rest > 0; rest = Math.floor(rest / 128)) chunk.unshift((rest & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return derEncode(DER.OID, Uint8Array.from(bytes));
}

export function derEncodeInteger(value: number): Uint8Array {
  const bytes: number[] = [];
  for (let v = value; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  if (bytes.length === 0 || (bytes[0] as number) & 0x80) bytes.unshift(0);
  return derEncode(DER.INTEGER, Uint8Array.from(bytes));
}
