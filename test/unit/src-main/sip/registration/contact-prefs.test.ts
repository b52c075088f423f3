/**
 * contact_prefs from a Contact (RFC 7904 §3.2 with RFC 3840 §9): sips Contacts say SIPS only, feature tags
 * become their RFC 2533 filter, non-feature parameters are left out, malformed tags are refused by name; the
 * AOR normalization and the registering side's domain restriction.
 */
import { describe, expect, it } from 'vitest';
import { Grammar, type NameAddrHeader } from 'sip.js/lib/core/index.js';
import { defaultKinds } from '../../../../../src-main/reload/config';
import type { StorageKind } from '../../../../../src-main/reload/storage';
import {
  combineContactPrefs,
  contactPrefsFromContact,
  MAX_FEATURE_PARAMS,
  requiresSips,
} from '../../../../../src-main/sip/registration/contact-prefs';
import { checkDomainRestriction, normalizeAor } from '../../../../../src-main/sip/registration/aor';
import {
  AorSyntaxError,
  ContactPrefsError,
  DomainRestrictedError,
} from '../../../../../src-main/sip/registration/errors';

function contact(text: string): NameAddrHeader {
  const parsed = Grammar.nameAddrHeaderParse(text);
  if (!parsed) throw new Error(`test Contact does not parse: ${text}`);
  return parsed;
}

describe('contactPrefsFromContact', () => {
  it('a sips Contact states the SIPS preference in the RFC’s literal form; a plain one states nothing', () => {
    expect(contactPrefsFromContact(contact('<sips:alice@127.0.0.1:5061;transport=tls>;expires=600'))).toBe(
      '(sip.schemes=SIPS)',
    );
    expect(contactPrefsFromContact(contact('<sip:alice@127.0.0.1:5060>;q=0.7;expires=60'))).toBe('');
    expect(contactPrefsFromContact(contact('<sip:alice@127.0.0.1>;schemes="SIP"'))).toBe('(sip.schemes=SIP)');
  });

  it('turns feature tags into RFC 2533 filters and leaves out instance and flow identifiers', () => {
    const c = contact(
      '<sips:alice@127.0.0.1>;audio;video;methods="INVITE,BYE";+sip.instance="<urn:uuid:0001>";reg-id=1;' +
        'priority="!emergency";+g.3gpp.icsi-ref="urn%3Aurn-7%3A3gpp";+sip.duration="#1:5";mobility="fixed"',
    );
    expect(contactPrefsFromContact(c)).toBe(
      '(&(sip.schemes=SIPS)(sip.audio=TRUE)(sip.video=TRUE)(|(sip.methods=INVITE)(sip.methods=BYE))' +
        '(!(sip.priority=emergency))(g.3gpp.icsi-ref=urn%3Aurn-7%3A3gpp)(&(sip.duration>=1)(sip.duration<=5))' +
        '(sip.mobility=fixed))',
    );
    expect(contactPrefsFromContact(contact('<sip:a@b>;description="<Desk phone>"'))).toBe(
      '(sip.description="Desk phone")',
    );
    expect(contactPrefsFromContact(contact('<sip:a@b>;+sip.weight="#>=3"'))).toBe('(sip.weight>=3)');
  });

  it('refuses malformed feature tags by name, too many parameters, other schemes', () => {
    const refusal = (text: string) => {
      try {
        contactPrefsFromContact(contact(text));
      } catch (e) {
        expect(e).toBeInstanceOf(ContactPrefsError);
        return (e as ContactPrefsError).field;
      }
      throw new Error(`accepted: ${text}`);
    };
    expect(refusal('<sip:a@b>;methods=INVITE')).toBe('contact.methods'); // unquoted
    expect(refusal('<sip:a@b>;methods="INVITE,,BYE"')).toBe('contact.methods');
    expect(refusal('<sip:a@b>;methods="a)(b"')).toBe('contact.methods'); // filter injection
    expect(refusal('<sip:a@b>;description="<a\\"b>"')).toBe('contact.description');
    expect(refusal('<sip:a@b>;+1bad')).toBe('contact.+1bad');
    const many = Array.from({ length: MAX_FEATURE_PARAMS + 1 }, (_, i) => `p${i}`).join(';');
    expect(refusal(`<sip:a@b>;${many}`)).toBe('contact');
    expect(refusal(`<sip:a@b>;${Array.from({ length: 30 }, (_, i) => `+x${i}="${'v'.repeat(20)}"`).join(';')}`)).toBe(
      'contact',
    );
    expect(() => contactPrefsFromContact({ uri: { scheme: 'tel' }, parameters: {} })).toThrow(ContactPrefsError);
  });

  it('combines the bindings of one entry: their disjunction; one that states nothing leaves it open', () => {
    expect(combineContactPrefs([])).toBe('');
    expect(combineContactPrefs(['(sip.schemes=SIPS)', '(sip.schemes=SIPS)'])).toBe('(sip.schemes=SIPS)');
    expect(combineContactPrefs(['(sip.schemes=SIPS)', '(sip.audio=TRUE)'])).toBe(
      '(|(sip.audio=TRUE)(sip.schemes=SIPS))',
    );
    expect(combineContactPrefs(['(sip.schemes=SIPS)', ''])).toBe('');
  });
});

describe('requiresSips (which Application-ID a caller uses)', () => {
  it('is true for (sip.schemes=SIPS) alone or in a top-level conjunction, false for a disjunction or negation', () => {
    expect(requiresSips('(sip.schemes=SIPS)')).toBe(true);
    expect(requiresSips(' (SIP.SCHEMES=sips) ')).toBe(true);
    expect(requiresSips('(&(sip.audio=TRUE)(sip.schemes=SIPS))')).toBe(true);
    expect(requiresSips('')).toBe(false);
    expect(requiresSips('(sip.audio=TRUE)')).toBe(false);
    expect(requiresSips('(|(sip.schemes=SIPS)(sip.audio=TRUE))')).toBe(false);
    expect(requiresSips('(&(!(sip.schemes=SIPS))(sip.audio=TRUE))')).toBe(false);
    expect(requiresSips('(&(|(sip.schemes=SIPS)(sip.schemes=SIP)))')).toBe(false);
    expect(requiresSips('(&))(sip.schemes=SIPS)')).toBe(false);
    const sipsContact = contactPrefsFromContact({ uri: { scheme: 'sips' }, parameters: { audio: null } });
    expect(requiresSips(sipsContact)).toBe(true);
    expect(requiresSips(combineContactPrefs([sipsContact, '(sip.audio=TRUE)']))).toBe(false);
  });
});

describe('AORs and the domain restriction on the registering side', () => {
  it('normalizes sip:/sips: prefixes and %-escapes, lowercases the domain, refuses what is not user@domain', () => {
    expect(normalizeAor('sip:alice@Example.COM')).toBe('alice@example.com');
    expect(normalizeAor('SIPS:alice@example.com')).toBe('alice@example.com');
    expect(normalizeAor('al%69ce@example.com')).toBe('alice@example.com');
    for (const bad of [
      'alice',
      '@example.com',
      'alice@',
      'a@b@c',
      'alice@example.com;gr=x',
      'al%ice@x',
      'a b@c',
      'a@b:5060',
    ])
      expect(() => normalizeAor(bad), bad).toThrow(AorSyntaxError);
    expect(normalizeAor(`${'a'.repeat(250)}@b.c`)).toHaveLength(254);
    expect(() => normalizeAor(`${'a'.repeat(251)}@b.c`)).toThrow(AorSyntaxError);
  });

  it('applies sip:domain-restriction as the storing peer does', () => {
    const kind = (r: StorageKind['sipDomainRestriction']): StorageKind => ({
      ...(defaultKinds()[0] as StorageKind),
      ...(r ? { sipDomainRestriction: r } : {}),
    });
    expect(() => checkDomainRestriction(kind(undefined), 'ov.example', 'a@anything.example')).not.toThrow();
    const own = kind({ enabled: false, patterns: [] });
    expect(() => checkDomainRestriction(own, 'ov.example', 'a@ov.example')).not.toThrow();
    expect(() => checkDomainRestriction(own, 'ov.example', 'a@other.example')).toThrow(DomainRestrictedError);
    const patterns = kind({ enabled: true, patterns: ['dht\\.example\\.com', '.*\\.my\\.example', '(unclosed'] });
    expect(() => checkDomainRestriction(patterns, 'ov.example', 'a@dht.example.com')).not.toThrow();
    expect(() => checkDomainRestriction(patterns, 'ov.example', 'a@x.my.example')).not.toThrow();
    // Full match: a pattern is not a substring search.
    expect(() => checkDomainRestriction(patterns, 'ov.example', 'a@dht.example.com.evil')).toThrow(
      DomainRestrictedError,
    );
    expect(() => checkDomainRestriction(patterns, 'ov.example', 'a@ov.example')).toThrow(DomainRestrictedError);
  });
});
