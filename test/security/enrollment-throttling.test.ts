/**
 * Issue 10, item 2: password guessing against /enroll. Attempts are counted before the password check, so
 * concurrent guesses cannot all slip past the limit; checks in flight are capped per user and per address;
 * and a guesser's failures hold back only the guesser's own (user, address) pair, never the real user's.
 * Everything over real HTTPS on loopback, from distinct 127/8 source addresses.
 */
import type { TLSSocket } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_RATE_LIMITS, LoginRateLimiter } from '../../src-main/host/enrollment/rate-limiter';
import { startOverlayServer, type RunningOverlayServer } from '../../src-main/host/overlay/overlay-server';
import { memoryLogger } from '../support/fixtures';
import {
  ALICE,
  attempt,
  BOB,
  enrollmentRequest,
  OVERLAY,
  send,
  testOverlay,
  tlsTo,
  type RawAnswer,
  type TestOverlay,
} from './enrollment-support';

let site: TestOverlay;
let server: RunningOverlayServer | undefined;

beforeAll(async () => {
  site = await testOverlay();
}, 60_000);
afterAll(async () => site?.remove());
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function serve(limiter: LoginRateLimiter): Promise<RunningOverlayServer> {
  server = await startOverlayServer(site.overlay, memoryLogger().log, {
    host: '127.0.0.1',
    port: 0,
    limiter,
    // Many connections from one address on purpose: the login limits are under test here, not the server's.
    limits: { maxConnectionsPerAddress: 100, maxConnections: 200 },
  });
  return server;
}

/** Opens every connection first, then writes every request in one tick: the guesses truly race. */
async function race(
  port: number,
  requests: { head: string; body: Buffer }[],
  from: (i: number) => string,
): Promise<RawAnswer[]> {
  const sockets: TLSSocket[] = [];
  for (let i = 0; i < requests.length; i++) sockets.push(await tlsTo(port, site.caPem, from(i)));
  return Promise.all(requests.map((request, i) => send(sockets[i] as TLSSocket, request)));
}

const checked = (answers: RawAnswer[]) => answers.filter((a) => a.status !== 429).length;

describe('enrollment login throttling', () => {
  it('60 concurrent guesses from one address: at most 5 password checks run, and the right one is not among them', async () => {
    // A frozen clock: no delay ever runs out during the test, whatever the machine's speed.
    const running = await serve(new LoginRateLimiter({ now: () => 1_000_000 }));
    const requests = [];
    for (let i = 0; i < 59; i++) requests.push(await enrollmentRequest(ALICE.username, `wrong guess ${i}`));
    requests.push(await enrollmentRequest(ALICE.username, ALICE.password));
    const answers = await race(running.port, requests, () => '127.0.0.3');
    expect(answers.at(-1)?.status).not.toBe(200);
    expect(checked(answers)).toBeLessThanOrEqual(5);
    expect(answers.every((a) => a.status === 403 || a.status === 429)).toBe(true);
    for (const refused of answers.filter((a) => a.status === 429)) {
      expect(refused.token).toBe('rate_limited');
      expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(1);
    }
  }, 60_000);

  it("an attacker's wrong guesses from one address do not lock the real user out at another", async () => {
    const running = await serve(new LoginRateLimiter());
    const guesses: RawAnswer[] = [];
    for (let i = 0; i < 8; i++)
      guesses.push(await attempt(running.port, site.caPem, ALICE.username, `guess ${i}`, '127.0.0.2'));
    expect(guesses.slice(0, 5).map((a) => a.status)).toEqual([403, 403, 403, 403, 403]);
    // The guesser's own pair is held back from the sixth attempt on.
    expect(guesses.slice(5).map((a) => a.status)).toEqual([429, 429, 429]);
    expect(Number(guesses[5]?.retryAfter)).toBeGreaterThanOrEqual(1);
    // The real user, from their own address, still gets in.
    const real = await attempt(running.port, site.caPem, ALICE.username, ALICE.password, '127.0.0.1');
    expect(real.status).toBe(200);
    // The right password does not open the attacker's pair before its delay has run out.
    const fromAttacker = await attempt(running.port, site.caPem, ALICE.username, ALICE.password, '127.0.0.2');
    expect(fromAttacker.status).toBe(429);
  }, 60_000);

  it('guesses from many addresses slow the user down but do not lock the real user out', async () => {
    // Short slow-down steps so the test is quick; the policy is the default one otherwise.
    const running = await serve(new LoginRateLimiter({ userBaseDelayMs: 20, userMaxDelayMs: 100 }));
    for (let a = 0; a < 10; a++)
      for (let i = 0; i < 3; i++) {
        const guess = await attempt(running.port, site.caPem, BOB.username, `guess ${i}`, `127.0.0.${40 + a}`);
        expect(guess.status).toBe(403);
      }
    const real = await attempt(running.port, site.caPem, BOB.username, BOB.password, '127.0.0.1');
    expect(real.status).toBe(200);
  }, 60_000);

  it('caps the password checks in flight per address: 10 concurrent logins to 10 accounts from one address', async () => {
    const running = await serve(new LoginRateLimiter({ now: () => 1_000_000 }));
    const requests = [];
    for (let i = 0; i < 10; i++) requests.push(await enrollmentRequest(`user${i}@${OVERLAY}`, 'some password'));
    const answers = await race(running.port, requests, () => '127.0.0.4');
    expect(checked(answers)).toBeLessThanOrEqual(4);
    expect(answers.filter((a) => a.status === 429).every((a) => Number(a.retryAfter) >= 1)).toBe(true);
  }, 60_000);

  it('caps the password checks in flight per user: 10 concurrent guesses for one account from 10 addresses', async () => {
    const running = await serve(new LoginRateLimiter({ now: () => 1_000_000 }));
    const requests = [];
    for (let i = 0; i < 10; i++) requests.push(await enrollmentRequest(BOB.username, `guess ${i}`));
    const answers = await race(running.port, requests, (i) => `127.0.0.${10 + i}`);
    // The shared slots, and the one kept for a pair's first attempt.
    expect(checked(answers)).toBeLessThanOrEqual(DEFAULT_RATE_LIMITS.maxInFlightPerUser + 1);
    expect(answers.filter((a) => a.status === 429).every((a) => Number(a.retryAfter) >= 1)).toBe(true);
  }, 60_000);
  it('40 addresses holding the in-flight slots for alice do not keep her out, during the attack or after', async () => {
    // Every check of alice's waits 300 ms (no free checks), so 40 guessing addresses keep all her shared slots busy
    // with a few requests a second, as in the reviewer's attack; each address in its own /24.
    const running = await serve(
      new LoginRateLimiter({ userFreeAttempts: 0, userBaseDelayMs: 300, userMaxDelayMs: 300 }),
    );
    let stop = false;
    let sent = 0;
    let busy = 0;
    const attackers: Promise<void>[] = [];
    const guess = async (n: number) => {
      busy++;
      await attempt(running.port, site.caPem, ALICE.username, `guess ${n}`, `127.1.${n % 40}.1`).catch(() => undefined);
      busy--;
    };
    const attacker = (async () => {
      while (!stop && sent < 400) {
        if (busy < DEFAULT_RATE_LIMITS.maxInFlightPerUser) attackers.push(guess(sent++));
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const during: RawAnswer[] = [];
    for (let i = 0; i < 6; i++) {
      during.push(await attempt(running.port, site.caPem, ALICE.username, ALICE.password, '127.9.9.9'));
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    stop = true;
    await attacker;
    await Promise.all(attackers);
    const after = await attempt(running.port, site.caPem, ALICE.username, ALICE.password, '127.9.9.9');
    expect(sent).toBeGreaterThan(10);
    expect(during.map((a) => `${a.status} ${a.retryAfter ?? ''}`)).toEqual(Array<string>(6).fill('200 '));
    expect(after.status).toBe(200);
  }, 60_000);
});
