/**
 * The RFC 3261 §17 timers the proxy adds to sip.js's transactions on datagram flows (unreliable.ts): a lost
 * datagram costs a retransmission, and a late copy of an old message is answered as the ended transaction
 * would have answered it, not taken for a new request or dropped as a stray.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BOB, rig, sendAliceToBob, settle, target, nodeId, uniq, type Phone, type Rig } from './proxy-harness';
let current: Rig | undefined;

afterEach(() => {
  current?.proxy.close();
  current = undefined;
});

function setup(framing: 'datagram' | 'stream' = 'datagram'): Rig {
  const r = rig({}, 0xaa, framing);
  current = r;
  r.resolutions.set(BOB, { targets: [target('t0', 'bob@ov.test', nodeId(0x10))] });
  return r;
}

function send(caller: Phone, method: string, branch: string, callId: string, extra: { toTag?: string } = {}): void {
  sendAliceToBob(caller, method, callId, branch, extra);
}

async function advance(r: Rig, ms: number): Promise<void> {
  r.clock.advance(ms);
  await settle();
}

describe('SipProxy on datagram flows', () => {
  it('timer A: resends a forwarded INVITE at T1, 2T1, 4T1 until the first response', async () => {
    const r = setup();
    const caller = r.localPhone();
    send(caller, 'INVITE', 'z9hG4bKa1', uniq('call'));
    await settle();
    const callee = r.remotes.get('t0')!;
    expect(callee.requests('INVITE')).toHaveLength(1);
    await advance(r, 499);
    expect(callee.requests('INVITE')).toHaveLength(1);
    await advance(r, 1);
    expect(callee.requests('INVITE')).toHaveLength(2);
    await advance(r, 1000);
    expect(callee.requests('INVITE')).toHaveLength(3);
    const copies = callee.requests('INVITE').map((m) => m.data);
    expect(new Set(copies).size).toBe(1); // the same message, same branch
    callee.respond(callee.requests('INVITE')[0]!, 180);
    await settle();
    await advance(r, 10_000);
    expect(callee.requests('INVITE')).toHaveLength(3);
    expect(r.proxy.status().retransmissions).toBe(2);
  });

  it('timer E: resends a non-INVITE request, the interval capped at T2, then every T2 after a provisional', async () => {
    const r = setup();
    const caller = r.localPhone();
    send(caller, 'OPTIONS', 'z9hG4bKe1', uniq('call'));
    await settle();
    const callee = r.remotes.get('t0')!;
    const count = () => callee.requests('OPTIONS').length;
    for (const [ms, n] of [
      [500, 2],
      [1000, 3],
      [2000, 4],
      [4000, 5],
      [4000, 6],
    ] as const) {
      await advance(r, ms);
      expect(count()).toBe(n);
    }
    callee.respond(callee.requests('OPTIONS')[0]!, 100);
    await settle();
    await advance(r, 3999);
    expect(count()).toBe(6);
    await advance(r, 1);
    expect(count()).toBe(7);
    callee.respond(callee.requests('OPTIONS')[0]!, 200);
    await settle();
    await advance(r, 20_000);
    expect(count()).toBe(7);
    expect(caller.statuses('OPTIONS')).toEqual([200]);
  });

  it('timer G: resends a non-2xx final to the caller until its ACK', async () => {
    const r = setup();
    const caller = r.localPhone();
    const callId = uniq('call');
    send(caller, 'INVITE', 'z9hG4bKg1', callId);
    await settle();
    const callee = r.remotes.get('t0')!;
    callee.respond(callee.requests('INVITE')[0]!, 486);
    await settle();
    expect(caller.statuses('INVITE')).toEqual([100, 486]);
    await advance(r, 500);
    await advance(r, 1000);
    expect(caller.statuses('INVITE')).toEqual([100, 486, 486, 486]);
    const final = caller.responses('INVITE')[1]!;
    send(caller, 'ACK', 'z9hG4bKg1', callId, { toTag: final.toTag });
    await settle();
    await advance(r, 8000);
    expect(caller.statuses('INVITE')).toEqual([100, 486, 486, 486]);
    expect(callee.requests('ACK')).toHaveLength(1); // the proxy's own hop-by-hop ACK, not the caller's
  });

  it('timers J and I: a late copy of an ended request gets the old answer; a late ACK is absorbed', async () => {
    const r = setup();
    const caller = r.localPhone();
    const callId = uniq('call');
    send(caller, 'OPTIONS', 'z9hG4bKj1', callId);
    await settle();
    const callee = r.remotes.get('t0')!;
    callee.respond(callee.requests('OPTIONS')[0]!, 200);
    await settle();
    await settle(); // sip.js ends the transaction (timer J = 0) on a real setTimeout
    await new Promise((f) => setTimeout(f, 5));
    expect(r.proxy.status().transactions).toBe(0);
    send(caller, 'OPTIONS', 'z9hG4bKj1', callId);
    await settle();
    expect(caller.statuses('OPTIONS')).toEqual([200, 200]);
    expect(callee.requests('OPTIONS')).toHaveLength(1);
    // After 64*T1 the copy counts as a new request again.
    await advance(r, 32_001);
    send(caller, 'OPTIONS', 'z9hG4bKj1', callId);
    await settle();
    expect(r.remotes.get('t0')).not.toBe(callee); // (the rig's connector opens a new flow per request)
    expect(r.remotes.get('t0')!.requests('OPTIONS')).toHaveLength(1);

    const inviteCall = uniq('call');
    send(caller, 'INVITE', 'z9hG4bKi1', inviteCall);
    await settle();
    const invited = r.remotes.get('t0')!;
    const inv = invited.requests('INVITE')[0]!;
    invited.respond(inv, 603);
    await settle();
    const final = caller.responses('INVITE').find((m) => m.statusCode === 603)!;
    send(caller, 'ACK', 'z9hG4bKi1', inviteCall, { toTag: final.toTag });
    await settle();
    await new Promise((f) => setTimeout(f, 5));
    send(caller, 'ACK', 'z9hG4bKi1', inviteCall, { toTag: final.toTag });
    await settle();
    expect(invited.requests('ACK')).toHaveLength(1);
    expect(r.remotes.get('t0')).toBe(invited); // the late ACK opened no flow either
    expect(r.proxy.status().failures['malformed'] ?? 0).toBe(0);
  });

  it('timer D: a non-2xx final that comes again gets the proxy’s ACK again', async () => {
    const r = setup();
    const caller = r.localPhone();
    send(caller, 'INVITE', 'z9hG4bKd1', uniq('call'));
    await settle();
    const callee = r.remotes.get('t0')!;
    const inv = callee.requests('INVITE')[0]!;
    callee.respond(inv, 480);
    await settle();
    await new Promise((f) => setTimeout(f, 5));
    expect(callee.requests('ACK')).toHaveLength(1);
    callee.respond(inv, 480);
    await settle();
    expect(callee.requests('ACK')).toHaveLength(2);
    expect(callee.requests('ACK')[1]!.data).toBe(callee.requests('ACK')[0]!.data);
    expect(caller.statuses('INVITE')).toEqual([100, 480]);
  });

  it('stream flows get none of it: no resend, and a late copy is a new transaction', async () => {
    const r = setup('stream');
    const caller = r.localPhone();
    send(caller, 'INVITE', 'z9hG4bKs1', uniq('call'));
    await settle();
    await advance(r, 5000);
    expect(r.remotes.get('t0')!.requests('INVITE')).toHaveLength(1);
    expect(r.proxy.status().retransmissions).toBe(0);
  });
});
