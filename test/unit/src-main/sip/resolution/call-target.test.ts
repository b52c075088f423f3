/** Call targets: AOR forms, GRUUs of this overlay, telephone numbers (E.164 rules) — and the typed refusals. */
import { describe, expect, it } from 'vitest';
import { decodeContext, type Destination } from '../../../../../src-main/reload';
import { parseCallTarget } from '../../../../../src-main/sip/resolution/call-target';
import {
  ForeignGruuError,
  InvalidGruuError,
  InvalidTargetError,
  InvalidTelephoneNumberError,
} from '../../../../../src-main/sip/resolution/errors';
import { normaliseTelephoneNumber } from '../../../../../src-main/sip/resolution/telephone-number';
import { gruuFor } from '../../../../../src-main/sip/gruu';

const ctx = decodeContext({ maxMessageSize: 5000, nodeIdLength: 16 });
const options = { domains: ['sim.example.org'], ctx };
const node: Destination = { type: 'node', id: Uint8Array.from({ length: 16 }, (_, i) => i + 1) };

describe('telephone numbers → E.164', () => {
  it('strips visual separators and tel:, keeps a leading +', () => {
    expect(normaliseTelephoneNumber('+1 (555) 123-4567')).toBe('+15551234567');
    expect(normaliseTelephoneNumber('tel:+44.20.7946.0958')).toBe('+442079460958');
    expect(normaliseTelephoneNumber('TEL:+49-30-1234567')).toBe('+49301234567');
  });

  it('a national number takes the default country code, its trunk prefix dropped', () => {
    expect(normaliseTelephoneNumber('030 1234567', { defaultCountryCode: '49' })).toBe('+49301234567');
    expect(normaliseTelephoneNumber('555 1234', { defaultCountryCode: '1', trunkPrefix: '' })).toBe('+15551234');
  });

  it.each([
    ['030 1234567', {}, /default country code/],
    ['tel:1234;phone-context=example.com', {}, /parameters/],
    ['+1 555 CALL NOW', {}, /not a digit/],
    ['+1234567890123456', {}, /1\.\.15 digits/],
    ['+0123456', {}, /country code never starts with 0/],
    ['+1+2345', {}, /only at the start/],
    ['+', {}, /1\.\.15 digits/],
    ['12', { defaultCountryCode: '0' }, /defaultCountryCode/],
  ])('%s is refused', (input, opts, message) => {
    expect(() => normaliseTelephoneNumber(input, opts)).toThrow(InvalidTelephoneNumberError);
    expect(() => normaliseTelephoneNumber(input, opts)).toThrow(message);
  });
});

describe('parseCallTarget', () => {
  it('an AOR with or without sip:/sips:, %-escapes decoded, lowercased', () => {
    for (const t of [
      'alice@sim.example.org',
      'sip:alice@sim.example.org',
      'SIPS:Alice@Sim.Example.Org',
      'sip:%61lice@sim.example.org;user=phone',
    ])
      expect(parseCallTarget(t, options)).toEqual({
        kind: 'aor',
        aor: 'alice@sim.example.org',
        domain: 'sim.example.org',
        served: true,
      });
  });

  it('an AOR of another domain is parsed but not served here', () => {
    expect(parseCallTarget('bob@elsewhere.example', options)).toMatchObject({ kind: 'aor', served: false });
  });

  it('a dialled number or tel: URI becomes +<digits>@<overlay domain>', () => {
    expect(parseCallTarget('+1 (555) 123-4567', options)).toMatchObject({
      aor: '+15551234567@sim.example.org',
      served: true,
    });
    expect(parseCallTarget('tel:+15551234567', options)).toMatchObject({ aor: '+15551234567@sim.example.org' });
    expect(() => parseCallTarget('5551234', options)).toThrow(InvalidTelephoneNumberError);
  });

  it('a GRUU of this overlay yields its destination list', () => {
    const gruu = gruuFor('alice@sim.example.org', [node], 16);
    expect(parseCallTarget(`sip:${gruu}`, options)).toEqual({
      kind: 'gruu',
      aor: 'alice@sim.example.org',
      destinations: [node],
    });
  });

  it('a GRUU of another domain, or one that does not decode, is refused', () => {
    expect(() => parseCallTarget(gruuFor('bob@elsewhere.example', [node], 16), options)).toThrow(ForeignGruuError);
    expect(() => parseCallTarget('alice@sim.example.org;gr=!!!', options)).toThrow(InvalidGruuError);
    expect(() => parseCallTarget('alice@sim.example.org;gr=', options)).toThrow(InvalidGruuError);
    expect(() => parseCallTarget('alice@sim.example.org;gr=MDEyMzQ1Njc4OTAxMjM0NTY3ODk~', options)).toThrow(
      InvalidGruuError,
    );
  });

  it.each([
    [''],
    ['alice'],
    ['mailto:alice@sim.example.org'],
    ['sip:alice@sim.example.org?subject=x'],
    ['sip:%zz@sim.example.org'],
    ['alice@sim.example.org:5060'],
    ['al ice@sim.example.org'],
    ['a@b@sim.example.org'],
    ['x'.repeat(2000) + '@sim.example.org'],
    ['alice@sim.example.org;gr=AAAA;gr=BBBB'],
  ])('%s is refused with InvalidTargetError', (t) => {
    expect(() => parseCallTarget(t, options)).toThrow(InvalidTargetError);
  });

  it('a non-string is refused naming the field', () => {
    expect(() => parseCallTarget(42, options, 'callee')).toThrow(/^callee: must be a string$/);
  });
});
