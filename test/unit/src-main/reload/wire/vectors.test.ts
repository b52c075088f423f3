/** Byte vectors from the spec digest (wire §1, §4, §6, §7.1; sip-usage §3, §8) and hand-built headers. */
import { describe, expect, it } from 'vitest';
import { overlayHash, resourceIdFor } from '../../../../../src-main/reload/crypto';
import * as W from '../../../../../src-main/reload/wire';
import {
  decodeGrParameter,
  decodeGruuDestinations,
  encodeGrParameter,
  gruuFor,
} from '../../../../../src-main/sip/gruu';
import { decodeSipRegistration, encodeSipRegistration } from '../../../../../src-main/sip/sip-registration';

const hex = (h: string) => W.fromHex(h.replace(/\s+/g, ''));
const ctx = W.decodeContext();
const N = Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i);
const NHEX = W.toHex(N);

describe('identifiers', () => {
  it('overlay hash = low 32 bits of SHA-1(name)', () => {
    expect(overlayHash('overlay.example.org')).toBe(0x9aa32b8d);
  });

  it('CHORD-RELOAD Resource-IDs = first 128 bits of SHA-1', () => {
    expect(W.toHex(resourceIdFor('alice@dht.example.com'))).toBe('0c51a942f50c828aef82a5af83e8ed59');
    expect(W.toHex(resourceIdFor('bob@dht.example.com'))).toBe('6c1cfd6d5d9e35557d66a1b05f9e2247');
  });

  it('a ResourceId carries a 1-byte length: "FOO" is 03 46 4f 4f', () => {
    const w = new W.Writer();
    W.writeResourceId(w, new TextEncoder().encode('FOO'));
    expect(W.toHex(w.finish())).toBe('03464f4f');
  });
});

describe('structure vectors', () => {
  it('IpAddressPort 192.0.2.1:6084', () => {
    const bytes = W.encodeWith(W.writeIpAddressPort, { family: 4, address: Uint8Array.of(192, 0, 2, 1), port: 6084 });
    expect(W.toHex(bytes)).toBe('0106c000020117c4');
  });

  it('destinations: node, resource (nested length), TLV opaque, compressed', () => {
    const enc = (d: W.Destination) => W.toHex(W.encodeWith((w, v: W.Destination) => W.writeDestination(w, v, 16), d));
    expect(enc({ type: 'node', id: N })).toBe(`0110${NHEX}`);
    expect(enc({ type: 'resource', id: N })).toBe(`021110${NHEX}`);
    expect(enc({ type: 'opaque', id: Uint8Array.of(1, 2, 3) })).toBe('030403010203');
    expect(enc({ type: 'compressed', id: 0x8123 })).toBe('8123');
    const r = new W.Reader(hex(`8123 0110${NHEX} 021110${NHEX}`), ctx);
    expect(W.readDestinations(r)).toEqual([
      { type: 'compressed', id: 0x8123 },
      { type: 'node', id: N },
      { type: 'resource', id: N },
    ]);
  });

  it('empty MessageContents is code + two zero lengths', () => {
    expect(W.toHex(W.encodeMessageContents({ code: 0x0017, body: new Uint8Array(), extensions: [] }))).toBe(
      '00170000000000000000',
    );
  });

  it('forwarding header: 38 fixed bytes, RELO token, version 0x0a, unfragmented 0xC0000000, length at offset 16', () => {
    const message = W.encodeMessage(
      {
        header: {
          overlay: 0x9aa32b8d,
          configurationSequence: 7,
          version: 0x0a,
          ttl: 100,
          transactionId: 0x0102030405060708n,
          maxResponseLength: 0,
          viaList: [],
          destinationList: [{ type: 'node', id: N }],
          options: [],
        },
        contents: { code: 0x0017, body: hex('0000'), extensions: [] },
        security: { certificates: [], signature: W.NO_SIGNATURE },
      },
      { nodeIdLength: 16 },
    );
    const expectedHeader =
      'd2454c4f 9aa32b8d 0007 0a 64 c0000000' +
      (message.length.toString(16).padStart(8, '0') + ' 0102030405060708 00000000 0000 0012 0000') +
      `0110${NHEX}`;
    expect(W.toHex(message.subarray(0, 38 + 18))).toBe(expectedHeader.replace(/\s+/g, ''));
    // contents (code, body length 2, body, no extensions), then security block: no certificates,
    // algorithm {0,0}, SignerIdentity none (03 0000), empty signature value.
    expect(W.toHex(message.subarray(56))).toBe(
      '0017' + '00000002' + '0000' + '00000000' + '0000' + '0000' + '030000' + '0000',
    );
  });

  it('SIP-REGISTRATION route with empty contact_prefs (sip-usage §3)', () => {
    const reg = {
      type: 'route' as const,
      contactPrefs: new Uint8Array(),
      destinations: [{ type: 'node' as const, id: N }],
    };
    const bytes = encodeSipRegistration(reg, 16);
    expect(W.toHex(bytes)).toBe(`020016 0000 0012 0110${NHEX}`.replace(/\s+/g, ''));
    expect(decodeSipRegistration(bytes, ctx)).toEqual(reg);
    // In storage: DictionaryEntry { key = 00 10 <N>, DataValue { 01, 00000019 <25 bytes> } }.
    const entry = W.encodeWith(W.writeStoredDataValue, {
      model: 'dictionary',
      key: N,
      value: { exists: true, value: bytes },
    });
    expect(W.toHex(entry)).toBe(`0010${NHEX}01 00000019`.replace(/\s+/g, '') + W.toHex(bytes));
  });

  it('SIP-REGISTRATION uri variant: 01 LLLL UUUU <uri>', () => {
    const uri = new TextEncoder().encode('sam@dht.example.org');
    expect(W.toHex(encodeSipRegistration({ type: 'uri', uri }, 16))).toBe('010015' + '0013' + W.toHex(uri));
  });

  it('GRUU gr parameter: base64 with ~ padding (RFC 7904 example)', () => {
    expect(new TextDecoder().decode(decodeGrParameter('MDEyMzQ1Njc4OTAxMjM0NTY3ODk~'))).toBe('01234567890123456789');
    expect(encodeGrParameter(new TextEncoder().encode('01234567890123456789'))).toBe('MDEyMzQ1Njc4OTAxMjM0NTY3ODk~');
    const gruu = gruuFor('alice@example.com', [{ type: 'node', id: N }], 16);
    expect(gruu).toMatch(/^alice@example\.com;gr=[A-Za-z0-9+/]+~*$/);
    expect(decodeGruuDestinations(gruu.split(';gr=')[1] ?? '', ctx)).toEqual([{ type: 'node', id: N }]);
    expect(() => decodeGrParameter('abc=')).toThrow(W.ReloadDecodeError);
  });

  it('RELOAD URI of a Node-ID as certificates carry it', () => {
    expect(W.nodeIdUri(N, 'overlay.example.org', 16)).toBe(`reload://0110${NHEX}@overlay.example.org/`);
    expect(W.parseReloadUri(`reload://0110${NHEX}@overlay.example.org/`, ctx).destinations).toEqual([
      { type: 'node', id: N },
    ]);
    expect(() => W.parseReloadUri('reload://zz@x/', ctx)).toThrow(W.ReloadDecodeError);
  });

  it('framing: data frame header is 8 bytes, ack frame 9', () => {
    const data = W.encodeWith(W.writeFramedMessage, { type: 'data', sequence: 1, message: hex('d2454c4f') });
    expect(W.toHex(data)).toBe('80' + '00000001' + '000004' + 'd2454c4f');
    expect(W.frameLength(data)).toBe(12);
    const ack = W.encodeWith(W.writeFramedMessage, { type: 'ack', ackSequence: 1, received: 0x80000001 });
    expect(W.toHex(ack)).toBe('81' + '00000001' + '80000001');
    expect(W.frameLength(ack)).toBe(9);
    expect(W.frameLength(hex('8000'))).toBeUndefined();
    expect(W.frameLength(hex('42'))).toBe(0);
  });

  it('error_info of Error_Unknown_Kind is a 1-byte-length list of Kind-IDs', () => {
    expect(W.toHex(W.encodeWith(W.writeUnknownKinds, [1, 0x104]))).toBe('08' + '00000001' + '00000104');
  });

  it('message code helpers', () => {
    expect(W.isRequestCode(W.MessageCode.store_req)).toBe(true);
    expect(W.isRequestCode(W.MessageCode.store_ans)).toBe(false);
    expect(W.isRequestCode(W.MessageCode.error)).toBe(false);
    expect(W.answerCodeFor(W.MessageCode.fetch_req)).toBe(W.MessageCode.fetch_ans);
    expect(W.methodOf(0x27)).toBe('path_track_req');
    expect(W.methodOf(0x23)).toBeUndefined();
  });
});
