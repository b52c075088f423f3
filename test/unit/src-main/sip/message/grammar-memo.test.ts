/**
 * sip.js's Grammar.parse is memoised by our patch (patches/sip.js+0.21.2.patch): a repeated header value must
 * still give every caller its own result, equal to a fresh parse, so that what one message's code changes no
 * other message sees.
 */
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { Grammar, NameAddrHeader, URI } from 'sip.js/lib/core/index.js';

const CASES: [string, string][] = [
  ['Via', 'SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1;received=127.0.0.1;rport=5061'],
  ['From', '"A b" <sip:peer1@sip.example.org;x=1?h=2>;tag=31234SIPpTag001'],
  ['To', 'sip:bob@example.org'],
  ['Record_Route', '<sip:a.invalid;lr>, <sip:127.0.0.1:5060;lr>'],
  ['Contact', '<sip:peer1@127.0.0.1:5061;transport=UDP>;expires=3;+sip.instance="<urn:uuid:1>"'],
  ['CSeq', '1 INVITE'],
  ['Request_Response', 'INVITE sip:bob@x;gr=ABC~ SIP/2.0'],
  ['Request_Response', 'SIP/2.0 180 Ringing'],
  ['SIP_URI', 'sips:a@[::1]:5061;transport=tls?x=y'],
  ['Name_Addr_Header', '<sip:+1234@x;user=phone>'],
  ['Max_Forwards', '69'],
  ['Via', 'not a via;;'],
];

describe('Grammar.parse with the memo', () => {
  it('gives each caller an equal result of its own, however often a value is parsed', () => {
    for (const [rule, input] of CASES) {
      const results = [1, 2, 3].map(() => Grammar.parse(input, rule) as unknown);
      expect(isDeepStrictEqual(results[0], results[1]), `${rule} ${input}`).toBe(true);
      expect(isDeepStrictEqual(results[1], results[2]), `${rule} ${input}`).toBe(true);
      if (typeof results[0] === 'object' && results[0] !== null) expect(results[1]).not.toBe(results[2]);
    }
  });

  it('keeps a change to one result out of the next (URI and name-addr parameters, nested objects)', () => {
    const first = Grammar.parse('<sip:bob@x;lr>;tag=1', 'Name_Addr_Header') as NameAddrHeader;
    expect(first).toBeInstanceOf(NameAddrHeader);
    first.setParam('tag', 'changed');
    first.uri.setParam('lr', 'changed');
    first.uri.user = 'mallory';
    const second = Grammar.parse('<sip:bob@x;lr>;tag=1', 'Name_Addr_Header') as NameAddrHeader;
    expect(second.getParam('tag')).toBe('1');
    expect(second.uri).toBeInstanceOf(URI);
    expect(second.uri.user).toBe('bob');
    expect(second.uri.getParam('lr')).toBeNull();
    const via = Grammar.parse('SIP/2.0/UDP h;branch=z9hG4bK1;rport', 'Via') as { branch: string; params?: object };
    via.branch = 'z9hG4bKchanged';
    expect((Grammar.parse('SIP/2.0/UDP h;branch=z9hG4bK1;rport', 'Via') as { branch: string }).branch).toBe('z9hG4bK1');
  });

  it('does not memoise long inputs or keep more than a bounded number of values', () => {
    const long = `<sip:bob@x;p=${'a'.repeat(600)}>`;
    expect((Grammar.parse(long, 'Name_Addr_Header') as NameAddrHeader).uri.getParam('p')).toHaveLength(600);
    // Many distinct values in a row (a flood of new Call-IDs) still parse right.
    for (let i = 0; i < 5000; i++) expect(Grammar.parse(`${i}@h`, 'Call_ID')).not.toBe(-1);
    expect(Grammar.parse('1 INVITE', 'CSeq')).toEqual({ value: 1, method: 'INVITE' });
  });
});
