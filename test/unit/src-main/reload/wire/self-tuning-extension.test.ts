/** SelfTuningData (RFC 7363 §7.2) as message extension 0x0003: exact bytes, round trip, rejections. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeContext,
  findSelfTuningData,
  MessageExtensionType,
  ReloadDecodeError,
  selfTuningExtension,
} from '../../../../../src-main/reload/wire';

const ctx = decodeContext();

describe('self_tuning_data extension', () => {
  it('is a non-critical extension 0x0003 of three uint32 (12 bytes)', () => {
    const e = selfTuningExtension({ networkSize: 0x01020304, joinRate: 10_628, leaveRate: 0xffffffff });
    expect(e.type).toBe(MessageExtensionType.self_tuning_data);
    expect(e.type).toBe(3);
    expect(e.critical).toBe(false);
    expect([...e.contents]).toEqual([1, 2, 3, 4, 0, 0, 0x29, 0x84, 0xff, 0xff, 0xff, 0xff]);
  });

  it('round-trips any values', () => {
    const u32 = fc.integer({ min: 0, max: 0xffffffff });
    fc.assert(
      fc.property(fc.record({ networkSize: u32, joinRate: u32, leaveRate: u32 }), (data) => {
        const others = [{ type: 2, critical: false, contents: Uint8Array.of(9) }];
        expect(findSelfTuningData([...others, selfTuningExtension(data)], ctx)).toEqual(data);
      }),
    );
  });

  it('is absent without the extension, and refused when not exactly 12 bytes', () => {
    expect(findSelfTuningData([], ctx)).toBeUndefined();
    expect(findSelfTuningData([{ type: 1, critical: false, contents: new Uint8Array(12) }], ctx)).toBeUndefined();
    for (const length of [0, 11, 13])
      expect(() => findSelfTuningData([{ type: 3, critical: false, contents: new Uint8Array(length) }], ctx)).toThrow(
        ReloadDecodeError,
      );
  });
});
