/**
 * Issue 10, item 2: the login throttle's policy, on a hand-driven clock. A guesser is held back per (user,
 * address) and per address; guesses for one user from many addresses slow that user's checks down but never
 * lock the real user out; and every count is taken when the attempt arrives.
 */
import { describe, expect, it } from 'vitest';
import { clientAddressKey } from '../../src-main/host/enrollment/client-address';
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
      'in-flight-user',
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
