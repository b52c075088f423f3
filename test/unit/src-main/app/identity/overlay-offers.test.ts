/** Offers are kept for 10 minutes, at most MAX_OFFERS at a time, under ids nobody can guess. */
import { describe, expect, it } from 'vitest';
import {
  MAX_OFFERS,
  OFFER_TTL_MS,
  OfferStore,
  sameFingerprint,
  type DiscoveredOverlay,
} from '../../../../../src-main/app/identity/overlay-offers';
import { localOverlayConfiguration } from '../../../../../src-main/reload';

const found = (): DiscoveredOverlay => ({
  config: {
    ...localOverlayConfiguration(),
    instanceName: 'o.example',
    enrollmentServers: ['https://o.example/enroll'],
  },
  document: '<overlay/>',
  url: 'https://o.example/.well-known/reload-config',
  signers: [{ fingerprint: 'AB:CD', subject: 'admin@o.example', notAfter: new Date(0).toISOString() }],
});

describe('OfferStore', () => {
  it('answers an offer until it expires', () => {
    let now = 1_000_000;
    const store = new OfferStore(() => now);
    const offer = store.add(found());
    expect(offer).toMatchObject({ overlay: 'o.example', enrollment: true, selfSignedPermitted: true, expires: null });
    expect(offer.offer).toMatch(/^[A-Za-z0-9_-]{24}$/);
    now += OFFER_TTL_MS - 1;
    expect(store.get(offer.offer)?.document).toBe('<overlay/>');
    now += 1;
    expect(store.get(offer.offer)).toBeUndefined();
  });

  it('keeps at most MAX_OFFERS, dropping the oldest', () => {
    const store = new OfferStore(() => 0);
    const ids = Array.from({ length: MAX_OFFERS + 2 }, () => store.add(found()).offer);
    expect(new Set(ids).size).toBe(ids.length);
    expect(store.get(ids[0]!)).toBeUndefined();
    expect(store.get(ids[1]!)).toBeUndefined();
    for (const id of ids.slice(2)) expect(store.get(id)).toBeDefined();
  });
});

describe('sameFingerprint', () => {
  it('ignores case and separators, never matches an empty one', () => {
    expect(sameFingerprint('AB:CD:EF', 'abcdef')).toBe(true);
    expect(sameFingerprint('AB:CD:EF', 'AB:CD:EE')).toBe(false);
    expect(sameFingerprint('', '::')).toBe(false);
  });
});
