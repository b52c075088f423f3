/**
 * Writes the malformed-input corpus (test/vectors/malformed/*.hex) from one valid Store request. Each file:
 * a `# ` line saying what is wrong, an `# expect: ` line with the error path the decoder must report, then
 * the bytes as hex. Run with `npx tsx test/vectors/build-malformed.ts` after changing a case; the
 * robustness test reads the files, so new cases (e.g. fuzzer finds) can be dropped in by hand too.
 */
import { writeFileSync } from 'node:fs';
import { baseStoreRequest } from './base-message';
import * as W from '../../src-main/reload/wire';

const base = baseStoreRequest();
const { headerLength } = W.decodeHeader(base, W.decodeContext());
const contentsAt = headerLength;

function patched(edit: (b: Uint8Array, v: DataView) => void): Uint8Array {
  const b = base.slice();
  edit(b, new DataView(b.buffer));
  return b;
}

const cases: [name: string, what: string, expect: string, bytes: Uint8Array][] = [
  ['bad-token', 'relo_token is not RELO', 'ForwardingHeader.relo_token', patched((b) => (b[0] = 0x52))],
  ['old-version', 'version 0x01 (pre-RFC draft)', 'ForwardingHeader.version', patched((b) => (b[10] = 0x01))],
  [
    'fragment-bit-clear',
    'fragment field without the historic bit',
    'ForwardingHeader.fragment',
    patched((_, v) => v.setUint32(12, 0x40000000)),
  ],
  ['length-too-big', 'length claims 4 GiB', 'ForwardingHeader.length', patched((_, v) => v.setUint32(16, 0xffffffff))],
  [
    'length-mismatch',
    'length one byte shorter than the datagram',
    'ForwardingHeader.length',
    patched((_, v) => v.setUint32(16, base.length - 1)),
  ],
  [
    'via-length-lie',
    'via_list_length points past the message',
    'ForwardingHeader',
    patched((_, v) => v.setUint16(32, 0xfff0)),
  ],
  ['dest-node-short', 'node destination with length 15', 'destination_list[0]', patched((b) => (b[39] = 15))],
  ['dest-type-zero', 'destination type 0', 'destination_list[0].type', patched((b) => (b[38] = 0))],
  ['empty-destination-list', 'destination_list_length 0', 'ForwardingHeader', patched((_, v) => v.setUint16(34, 0))],
  [
    'body-length-huge',
    'message_body length 0xffffff00',
    'MessageContents.message_body',
    patched((_, v) => v.setUint32(contentsAt + 2, 0xffffff00)),
  ],
  [
    'reserved-code',
    'message_code 0x8000',
    'MessageContents.message_code',
    patched((_, v) => v.setUint16(contentsAt, 0x8000)),
  ],
  [
    'truncated-security',
    'security block cut short (length field agrees)',
    'SecurityBlock',
    (() => {
      const cut = base.slice(0, base.length - 10);
      new DataView(cut.buffer).setUint32(16, cut.length);
      return cut;
    })(),
  ],
  [
    'trailing-garbage',
    'two extra bytes after the security block',
    'ForwardingHeader.length',
    Uint8Array.from([...base, 0, 0]),
  ],
  [
    'extension-bool-2',
    'extension critical flag 2',
    'MessageContents.extensions',
    patched((b, v) => {
      const bodyLen = v.getUint32(contentsAt + 2);
      const extAt = contentsAt + 6 + bodyLen;
      b[extAt + 4 + 2] = 2;
    }),
  ],
];

const dir = new URL('./malformed/', import.meta.url);
for (const [name, what, expect, bytes] of cases) {
  const hex = W.toHex(bytes)
    .replace(/(.{64})/g, '$1\n')
    .trim();
  writeFileSync(new URL(`${name}.hex`, dir), `# ${what}\n# expect: ${expect}\n${hex}\n`);
}
console.log(`wrote ${cases.length} cases`);
