import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { splitHeaderList, viaEntries } from '../../../../../src-main/sip/proxy/sip-text';
import { SipProxyMessageError } from '../../../../../src-main/sip/proxy/proxy-errors';
import { parseSipMessage } from '../../../../../src-main/sip/message/parse';
import { parse } from './proxy-harness';

describe('header list splitting', () => {
  it('splits at top-level commas only', () => {
    expect(splitHeaderList('<sip:a;lr>, "x, y" <sip:b@c>, <sip:[::1]:5060;lr>')).toEqual([
      '<sip:a;lr>',
      '"x, y" <sip:b@c>',
      '<sip:[::1]:5060;lr>',
    ]);
  });

  it('gives back the entries it was built from', () => {
    const entry = fc.stringMatching(/^[a-z0-9.;=]{1,12}$/).map((s) => `<sip:${s}>`);
    fc.assert(
      fc.property(fc.array(entry, { minLength: 1, maxLength: 6 }), (list) => {
        expect(splitHeaderList(list.join(', '))).toEqual(list);
      }),
    );
  });

  it('reads a Via stack written over several lines and in list form, and bounds it', () => {
    const m = parse(
      'SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP a.test;branch=z9hG4bK1, SIP/2.0/UDP b.test:5062;branch=z9hG4bK2\r\nv: SIP/2.0/TCP c.test;branch=z9hG4bK3\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n',
    );
    expect(viaEntries(m, 10, '.test').map((v) => [v.host, v.port, v.branch])).toEqual([
      ['a.test', undefined, 'z9hG4bK1'],
      ['b.test', 5062, 'z9hG4bK2'],
      ['c.test', undefined, 'z9hG4bK3'],
    ]);
    // Below the top, only entries that could be ours (their text names our sent-by) are parsed.
    expect(viaEntries(m, 10, 'c.test').map((v) => [v.raw, v.host, v.parsed])).toEqual([
      ['SIP/2.0/TCP a.test;branch=z9hG4bK1', 'a.test', true],
      ['SIP/2.0/UDP b.test:5062;branch=z9hG4bK2', '', false],
      ['SIP/2.0/TCP c.test;branch=z9hG4bK3', 'c.test', true],
    ]);
    expect(() => viaEntries(m, 2)).toThrow(SipProxyMessageError);
    // Parsed by parseSipMessage, the top entry of a list line is read alone (sip.js alone mixes the entries).
    const checked = parseSipMessage(m.data);
    expect(viaEntries(checked, 10)[0]).toMatchObject({ host: 'a.test', branch: 'z9hG4bK1', parsed: true });
  });
});
