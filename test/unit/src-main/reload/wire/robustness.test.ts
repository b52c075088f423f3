/**
 * Hostile input: whatever bytes arrive, decoding either succeeds or throws ReloadDecodeError — never another
 * exception, never a hang — and byte fields are views of the input, so a lying length cannot make the
 * decoder allocate. The corpus in test/vectors/malformed/ pins the error path for known-bad messages.
 */
import { readdirSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as W from '../../../../../src-main/reload/wire';
import { decodeSipRegistration } from '../../../../../src-main/sip/sip-registration';
import * as A from '../../../../support/wire-arbitraries';
import { baseStoreRequest } from '../../../../vectors/base-message';

const ctx = W.decodeContext({ maxMessageSize: 1 << 16 });

/** Decodes everything a destination would: header, contents, security block, body. */
function decodeFully(bytes: Uint8Array): void {
  const message = W.decodeMessage(bytes, ctx);
  W.decodeBody(message.contents.code, message.contents.body, ctx);
}

function onlyTypedErrors(fn: () => void): void {
  try {
    fn();
  } catch (error) {
    if (!(error instanceof W.ReloadDecodeError)) throw new Error(`escaped: ${String(error)}`, { cause: error });
    expect(error.message).toMatch(/\(at byte \d+\)$/);
  }
}

/** Valid messages of every method, to mutate. */
const corpus: Uint8Array[] = fc
  .sample(fc.tuple(A.forwardingHeader, A.body, A.securityBlock), { numRuns: 60, seed: 6940 })
  .map(([header, body, security]) => {
    const { code, bytes } = W.encodeBody(body, 16);
    return W.encodeMessage({ header, contents: { code, body: bytes, extensions: [] }, security }, { nodeIdLength: 16 });
  });
corpus.push(baseStoreRequest());

describe('decoder robustness', () => {
  it('every corpus message decodes (the mutations below start from valid input)', () => {
    for (const bytes of corpus) decodeFully(bytes);
  });

  it('truncation at every offset gives the typed error', () => {
    for (const bytes of corpus.slice(0, 20)) {
      for (let cut = 0; cut < bytes.length; cut++) {
        expect(() => W.decodeMessage(bytes.subarray(0, cut), ctx)).toThrow(W.ReloadDecodeError);
      }
    }
  });

  it('bit flips anywhere never throw anything but the typed error', () => {
    fc.assert(
      fc.property(fc.constantFrom(...corpus), fc.nat(), fc.integer({ min: 0, max: 7 }), (bytes, at, bit) => {
        const copy = bytes.slice();
        copy[at % copy.length] = (copy[at % copy.length] as number) ^ (1 << bit);
        onlyTypedErrors(() => decodeFully(copy));
      }),
      { numRuns: 3000 },
    );
  });

  it('length fields inflated or set to huge values are caught before anything is sliced', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...corpus),
        fc.nat(),
        fc.constantFrom(0xff, 0xffff, 0xffffff, 0xffffffff),
        (bytes, at, big) => {
          const copy = bytes.slice();
          const view = new DataView(copy.buffer);
          const pos = at % Math.max(1, copy.length - 4);
          view.setUint32(pos, big >>> 0);
          onlyTypedErrors(() => decodeFully(copy));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('random bytes behind a valid-looking header prefix', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 300 }), (tail) => {
        const bytes = Uint8Array.from([0xd2, 0x45, 0x4c, 0x4f, ...tail]);
        onlyTypedErrors(() => decodeFully(bytes));
        onlyTypedErrors(() => W.decodeBody(W.MessageCode.store_req, tail, ctx));
        onlyTypedErrors(() => W.decodeBody(W.MessageCode.attach_req, tail, ctx));
        onlyTypedErrors(() => W.decodeBody(W.MessageCode.fetch_ans, tail, ctx));
        onlyTypedErrors(() => decodeSipRegistration(tail, ctx));
        onlyTypedErrors(() => W.readFramedMessage(new W.Reader(tail, ctx)));
      }),
      { numRuns: 2000 },
    );
  });

  it('decoded byte fields are views into the input (no allocation driven by declared lengths)', () => {
    const bytes = baseStoreRequest();
    const message = W.decodeMessage(bytes, ctx);
    expect(message.contents.body.buffer).toBe(bytes.buffer);
    expect(message.security.signature.value.buffer).toBe(bytes.buffer);
    const body = W.decodeBody(message.contents.code, message.contents.body, ctx);
    if (body.method !== 'store_req') throw new Error('expected a store_req');
    const value = body.value.kindData[0]?.values[0];
    expect(value && 'value' in value ? value.value.value.value.buffer : undefined).toBe(bytes.buffer);
  });

  it('limits are parameters: message size, list entries, nesting depth', () => {
    const bytes = baseStoreRequest();
    expect(() => W.decodeMessage(bytes, W.decodeContext({ maxMessageSize: bytes.length - 1 }))).toThrow(
      /exceeds the maximum/,
    );
    expect(() => W.decodeMessage(bytes, W.decodeContext({ maxDepth: 1 }))).toThrow(/nesting deeper than 1/);
    const many = W.encodeWith(W.writeFindReq, { resource: new Uint8Array(16), kinds: [1, 2, 3, 4, 5] });
    expect(() => W.decodeBody(W.MessageCode.find_req, many, W.decodeContext({ maxListEntries: 4 }))).toThrow(
      /more than 4 entries/,
    );
    expect(() => W.decodeBody(W.MessageCode.find_req, many, W.decodeContext({ maxListEntries: 5 }))).not.toThrow();
    expect(() => W.decodeContext({ nodeIdLength: 0 })).toThrow(W.DecodeContextError);
    expect(() => W.decodeContext({ maxDepth: 0 })).toThrow(/maxDepth must be 1\.\.64/);
    const node20 = W.decodeContext({ nodeIdLength: 20 });
    expect(() => W.decodeMessage(bytes, node20)).toThrow(/node destination must be 20 bytes/);
  });

  it('unknown Kinds stay opaque so a storing peer can still name them', () => {
    const bytes = baseStoreRequest();
    const message = W.decodeMessage(bytes, ctx);
    const body = W.decodeBody(
      message.contents.code,
      message.contents.body,
      W.decodeContext({ dataModelOf: () => undefined }),
    );
    if (body.method !== 'store_req') throw new Error('expected a store_req');
    expect(body.value.kindData[0]?.kind).toBe(1);
    expect(W.isOpaqueStoredData(body.value.kindData[0]!.values[0]!)).toBe(true);
  });
});

describe('malformed corpus (test/vectors/malformed)', () => {
  const dir = new URL('../../../../vectors/malformed/', import.meta.url);
  const files = readdirSync(dir).filter((f) => f.endsWith('.hex'));

  it('has cases', () => expect(files.length).toBeGreaterThanOrEqual(10));

  it.each(files)('%s is refused with the expected path', (file) => {
    const text = readFileSync(new URL(file, dir), 'utf8');
    const expected = /^# expect: (.+)$/m.exec(text)?.[1]?.trim() ?? '';
    const bytes = W.fromHex(text.replace(/^#.*$/gm, '').replace(/\s+/g, ''));
    let error: unknown;
    try {
      decodeFully(bytes);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(W.ReloadDecodeError);
    expect((error as W.ReloadDecodeError).path.join('.').replace(/\.\[/g, '[')).toContain(expected);
  });
});
