/**
 * Issue 10, item 2: the login throttle's policy, on a hand-driven clock. A guesser is held back per (user,
 * address) and per address; guesses for one user from many addresses slow that user's checks down but never
 * lock the real user out; and every count is taken when the attempt arrives.
 */
import { describe, expect, it } from 'vitest';
import { clientAddressKey, clientNetworkKeys } from '../../src-main/host/enrollment/client-address';
import {
  DEFAULT_RATE_LIMITS,
  LoginRateLimiter,
  type LoginAdmission,
  type LoginRefusal,
} from '../../src-main/host/enrollment/rate-limiter';

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

function admitted(result: LoginAdmission | LoginRefusal): LoginAdmission {
  if (result.refused) throw new Error(`refused: ${result.refused}`);
  return result;
}

describe('login throttle policy', () => {
  it('per (user, address): five free attempts, then exponentially spaced ones, refused in between', () => {
    const c = clock();
    const limiter = new LoginRateLimiter({ now: c.now });
    for (let i = 0; i < 5; i++) admitted(limiter.begin('alice@o.example', '192.0.2.1')).failed();
    const early = limiter.begin('alice@o.example', '192.0.2.1');
    expect(early).toMatchObject({ refused: 'pair' });
    expect((early as LoginRefusal).retryAfterMs).toBeGreaterThanOrEqual(1_000);
    // Hammering pushes the next chance further out instead of waiting it out.
    c.advance(1_000);
    expect(limiter.begin('alice@o.example', '192.0.2.1')).toMatchObject({ refused: 'pair' });
    c.advance(4_000);
    admitted(limiter.begin('alice@o.example', '192.0.2.1')).failed();
    // The same user from another address is not held back at all.
    expect(admitted(limiter.begin('alice@o.example', '198.51.100.7')).delayMs).toBe(0);
  });

  it('counts an attempt when it arrives: concurrent attempts see each other', () => {
    const limiter = new LoginRateLimiter({ now: clock().now, maxInFlightPerAddress: 100, maxInFlightPerUser: 100 });
    const results = Array.from({ length: 60 }, () => limiter.begin('alice@o.example', '192.0.2.1'));
    expect(results.filter((r) => !r.refused)).toHaveLength(5);
    expect(limiter.inFlight()).toEqual({ users: 5, addresses: 5 });
  });

  it('caps checks in flight per address and per user', () => {
    const limiter = new LoginRateLimiter({ now: clock().now });
    const fromOne = Array.from({ length: 6 }, (_, i) => limiter.begin(`u${i}@o.example`, '192.0.2.1'));
    expect(fromOne.map((r) => r.refused ?? 'admitted')).toEqual([
      ...Array<string>(4).fill('admitted'),
      'in-flight-address',
      'in-flight-address',
    ]);
    const forOne = Array.from({ length: 6 }, (_, i) => limiter.begin('bob@o.example', `198.51.100.${i}`));
    expect(forOne.map((r) => r.refused ?? 'admitted')).toEqual([
      ...Array<string>(4).fill('admitted'),
      'admitted', // the one slot kept for a pair's first attempt
      'in-flight-user',
    ]);
    for (const r of [...fromOne, ...forOne]) if (!r.refused) r.failed();
    expect(limiter.inFlight()).toEqual({ users: 0, addresses: 0 });
    expect(limiter.begin('bob@o.example', '203.0.113.1').refused).toBeUndefined();
  });

  it('bounds attempts per address across users until the address has been quiet for a window', () => {
    const c = clock();
    const limiter = new LoginRateLimiter({ now: c.now });
    for (let i = 0; i < DEFAULT_RATE_LIMITS.maxPerAddress; i++)
      admitted(limiter.begin(`u${i}@o.example`, '192.0.2.1')).failed();
    expect(limiter.begin('someone@o.example', '192.0.2.1')).toMatchObject({ refused: 'address' });
    expect(limiter.begin('someone@o.example', '192.0.2.2').refused).toBeUndefined();
    c.advance(DEFAULT_RATE_LIMITS.windowMs + 1);
    expect(limiter.begin('someone@o.example', '192.0.2.1').refused).toBeUndefined();
  });

  it('guesses for one user from many addresses slow its checks down; the real user still gets in, within a bound', () => {
    const c = clock();
    const limiter = new LoginRateLimiter({ now: c.now });
    // 40 addresses, 5 wrong guesses each (their free attempts), one after another as fast as allowed.
    let checks = 0;
    const started = c.now();
    for (let a = 0; a < 40; a++) {
      for (let i = 0; i < 5; i++) {
        const attempt = admitted(limiter.begin('alice@o.example', `10.0.${a}.1`));
        c.advance(attempt.delayMs);
        checks++;
        attempt.failed();
      }
    }
    const elapsed = c.now() - started;
    // After the ramp, one check per userMaxDelayMs at most.
    expect(elapsed).toBeGreaterThanOrEqual((checks - 20) * DEFAULT_RATE_LIMITS.userMaxDelayMs);
    // The real user from their own address: admitted, not refused; the wait is bounded.
    const real = admitted(limiter.begin('alice@o.example', '203.0.113.9'));
    expect(real.delayMs).toBeLessThanOrEqual(
      DEFAULT_RATE_LIMITS.maxInFlightPerUser * DEFAULT_RATE_LIMITS.userMaxDelayMs,
    );
    real.succeeded();
  });

  it('a success clears its own pair only, and gives back just its own count to the address', () => {
    const limiter = new LoginRateLimiter({ now: clock().now });
    for (let i = 0; i < 5; i++) admitted(limiter.begin('alice@o.example', '192.0.2.1')).failed();
    for (let i = 0; i < 23; i++) admitted(limiter.begin(`u${i}@o.example`, '192.0.2.1')).failed();
    // 28 attempts so far. The attacker logs in to their own account: only that attempt is given back.
    admitted(limiter.begin('mallory@o.example', '192.0.2.1')).succeeded();
    expect(limiter.begin('alice@o.example', '192.0.2.1')).toMatchObject({ refused: 'pair' }); // 29
    admitted(limiter.begin('x@o.example', '192.0.2.1')).failed(); // 30
    expect(limiter.begin('y@o.example', '192.0.2.1')).toMatchObject({ refused: 'address' });
  });

  it('keeps a bounded number of counters', () => {
    const limiter = new LoginRateLimiter({ now: clock().now, maxKeys: 100 });
    for (let i = 0; i < 1_000; i++) admitted(limiter.begin(`u${i}@o.example`, `10.${i >> 8}.${i & 255}.1`)).failed();
    const sizes = limiter as unknown as Record<'pairs' | 'addresses' | 'users', Map<string, unknown>>;
    expect([sizes.pairs.size, sizes.addresses.size, sizes.users.size]).toEqual([100, 100, 100]);
  });

  it('refusals for checks in flight never count against the real user: no pair delay, no address block', () => {
    const c = clock();
    const limiter = new LoginRateLimiter({ now: c.now });
    // Others hold every slot for alice: the shared ones and the one kept for a pair's first attempt.
    const held = Array.from({ length: 5 }, (_, i) => limiter.begin('alice@o.example', `10.${i}.0.1`));
    const answers = [];
    for (let i = 0; i < 40; i++) {
      const r = limiter.begin('alice@o.example', '203.0.113.9');
      answers.push(r.refused ?? 'admitted');
      if (!r.refused) r.failed();
      c.advance(1_000);
    }
    expect(new Set(answers)).toEqual(new Set(['in-flight-user']));
    for (const h of held) if (!h.refused) h.failed();
    // Once the others' checks are done, alice's own pair and address are as fresh as before.
    const real = admitted(limiter.begin('alice@o.example', '203.0.113.9'));
    real.succeeded();
  });

  it('the real user is admitted while 40 addresses hold the in-flight slots, and after they stop', () => {
    const c = clock();
    const limiter = new LoginRateLimiter({ now: c.now });
    const HASH_MS = 50;
    const pending: { at: number; done: () => void }[] = [];
    let mine = 0;
    let next = 0;
    const seen: string[] = [];
    let maxDelay = 0;
    let waiting = false;
    // The reviewer's attack: each of 40 addresses in turn, always 4 guesses in flight, for 10 minutes; alice tries
    // with the right password every 10 s from her own address and then every 10 s for 2 minutes after.
    for (let t = 0; t <= 12 * 60_000; t += 100, c.advance(100)) {
      for (let i = pending.length - 1; i >= 0; i--)
        if ((pending[i] as { at: number }).at <= t) pending.splice(i, 1)[0]?.done();
      while (t < 10 * 60_000 && mine < 4) {
        const r = limiter.begin('alice@o.example', `10.${next++ % 40}.0.1`);
        if (r.refused) break;
        mine++;
        pending.push({ at: t + r.delayMs + HASH_MS, done: () => (mine--, r.failed()) });
      }
      if (t % 10_000 === 5_000 && !waiting) {
        const r = limiter.begin('alice@o.example', '203.0.113.9');
        seen.push(r.refused ? `${r.refused} ${r.retryAfterMs}` : 'admitted');
        if (!r.refused) {
          maxDelay = Math.max(maxDelay, r.delayMs);
          // The right password: checked, and a success (the first from this address takes the slot kept for first
          // attempts, later ones the known pair's own slot).
          waiting = true; // a person waits for the answer before trying again
          pending.push({ at: t + r.delayMs + HASH_MS, done: () => ((waiting = false), r.succeeded()) });
        }
      }
    }
    expect(seen.filter((s) => s !== 'admitted')).toEqual([]);
    expect(seen.length).toBeGreaterThan(60);
    // The first check, in the first-attempt slot, waits one step at most; the later ones, a known pair's, not at all.
    expect(maxDelay).toBeLessThanOrEqual(DEFAULT_RATE_LIMITS.userMaxDelayMs);
  });

  it('a greedy guesser who also takes the first-attempt slot keeps a first-time user out only while it has fresh addresses', () => {
    const c = clock();
    const limiter = new LoginRateLimiter({ now: c.now });
    const pending: { at: number; done: () => void }[] = [];
    let next = 0;
    let admittedAt: number | undefined;
    let refusals = 0;
    // 40 addresses, each in its own /24, take every slot they can, every 100 ms; alice (never logged in before)
    // comes at 60 s and retries when Retry-After says.
    for (let t = 0; t <= 30 * 60_000 && admittedAt === undefined; t += 100, c.advance(100)) {
      for (let i = pending.length - 1; i >= 0; i--)
        if ((pending[i] as { at: number }).at <= t) pending.splice(i, 1)[0]?.done();
      for (let k = 0; k < 10; k++) {
        const r = limiter.begin('alice@o.example', `10.${next++ % 40}.0.1`);
        if (!r.refused) pending.push({ at: t + r.delayMs + 50, done: () => r.failed() });
      }
      if (t >= 60_000 && t % 1_000 === 0) {
        const r = limiter.begin('alice@o.example', '203.0.113.9');
        if (r.refused) {
          refusals++;
          expect(r).toMatchObject({ refused: 'in-flight-user', retryAfterMs: 1_000 });
        } else {
          admittedAt = t;
          expect(r.delayMs).toBeLessThanOrEqual(DEFAULT_RATE_LIMITS.userMaxDelayMs);
        }
      }
    }
    // Each address is fresh once per window, and holds the slot for at most one step of the slow-down.
    expect(admittedAt).toBeLessThanOrEqual(60_000 + 40 * (DEFAULT_RATE_LIMITS.userMaxDelayMs + 100));
    expect(refusals).toBeGreaterThan(0);
  });

  it('a known pair (a recent success) gets its own slot, whatever others hold', () => {
    const c = clock();
    const limiter = new LoginRateLimiter({ now: c.now });
    admitted(limiter.begin('alice@o.example', '203.0.113.9')).succeeded();
    c.advance(60 * 60_000);
    const held = Array.from({ length: 5 }, (_, i) => admitted(limiter.begin('alice@o.example', `10.${i}.0.1`)));
    // 30 wrong guesses from alice's own /24 by a neighbour: that network is spent for strangers, not for alice.
    for (let i = 0; i < 60; i++) limiter.begin(`u${i}@o.example`, `203.0.113.${100 + (i % 30)}`);
    const real = admitted(limiter.begin('alice@o.example', '203.0.113.9'));
    expect(real.delayMs).toBe(0);
    // One at a time: a second concurrent check from the known pair waits for the first.
    expect(limiter.begin('alice@o.example', '203.0.113.9')).toMatchObject({ refused: 'in-flight-pair' });
    real.succeeded();
    for (const h of held) h.failed();
  });

  it('one IPv6 /56 spraying 800 users gets at most its aggregate budget in a window', () => {
    const c = clock();
    const limiter = new LoginRateLimiter({ now: c.now });
    let checks = 0;
    for (let net = 0; net < 256; net++)
      for (let k = 0; k < 30; k++) {
        const r = limiter.begin(
          `user${(net * 30 + k) % 800}@o.example`,
          clientAddressKey(`2001:db8:0:${net.toString(16)}::1`),
        );
        if (!r.refused) {
          checks++;
          r.failed();
        }
      }
    expect(checks).toBeLessThanOrEqual(DEFAULT_RATE_LIMITS.maxPerNetwork);
    // A whole /48 of /56s: at most the /48's budget.
    let wide = 0;
    for (let net = 0; net < 256; net++)
      for (let k = 0; k < 30; k++) {
        const r = limiter.begin(`user${k}@o.example`, clientAddressKey(`2001:db8:1:${(net << 8).toString(16)}::1`));
        if (!r.refused) {
          wide++;
          r.failed();
        }
      }
    expect(wide).toBeLessThanOrEqual(DEFAULT_RATE_LIMITS.maxPerSite);
  });

  it('one IPv4 /24 gets at most its aggregate budget', () => {
    const limiter = new LoginRateLimiter({ now: clock().now });
    let checks = 0;
    for (let host = 0; host < 256; host++)
      for (let k = 0; k < 30; k++) {
        const r = limiter.begin(`user${k}@o.example`, `198.51.100.${host}`);
        if (!r.refused) {
          checks++;
          r.failed();
        }
      }
    expect(checks).toBeLessThanOrEqual(DEFAULT_RATE_LIMITS.maxPerNetwork);
  });

  it('groups IPv4 per /24 and IPv6 per /56 and /48 for the aggregate budgets', () => {
    expect(clientNetworkKeys('192.0.2.77')).toEqual(['192.0.2.0/24']);
    expect(clientNetworkKeys('::ffff:192.0.2.77')).toEqual(['192.0.2.0/24']);
    expect(clientNetworkKeys('2001:db8:1:2ff::1')).toEqual(['2001:db8:1:200::/56', '2001:db8:1::/48']);
    expect(clientNetworkKeys(clientAddressKey('2001:db8:1:2ff::1'))).toEqual([
      '2001:db8:1:200::/56',
      '2001:db8:1::/48',
    ]);
    expect(clientNetworkKeys('unknown')).toEqual([]);
  });

  it('counts IPv4 clients per address (also IPv4-mapped) and IPv6 clients per /64', () => {
    expect(clientAddressKey('192.0.2.1')).toBe('192.0.2.1');
    expect(clientAddressKey('::ffff:192.0.2.1')).toBe('192.0.2.1');
    const a = clientAddressKey('2001:db8:1:2::1');
    expect(a).toBe('2001:db8:1:2::/64');
    expect(clientAddressKey('2001:0db8:0001:0002:ffff:eeee:dddd:cccc')).toBe(a);
    expect(clientAddressKey('2001:db8:1:2:0:0:0:7%eth0')).toBe(a);
    expect(clientAddressKey('2001:db8:1:3::1')).not.toBe(a);
    expect(clientAddressKey('::1')).toBe('0:0:0:0::/64');
    expect(clientAddressKey(undefined)).toBe('unknown');
  });
});
