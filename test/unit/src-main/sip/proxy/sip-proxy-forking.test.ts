import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { IncomingRequestMessage } from 'sip.js/lib/core/index.js';
import {
  hostOf,
  nodeId,
  registerLocal,
  request,
  rig,
  sendAliceToBob,
  settle,
  ALICE,
  BOB,
  target,
  uniq,
  type Phone,
  type Rig,
} from './proxy-harness';

let current: Rig | undefined;

afterEach(() => {
  current?.proxy.close();
  current = undefined;
});

function setup(targets: number, options = {}): Rig {
  const r = rig(options);
  current = r;
  r.resolutions.set(BOB, {
    targets: Array.from({ length: targets }, (_, i) => target(`t${i}`, 'bob@ov.test', nodeId(0x10 + i))),
  });
  return r;
}

function invite(
  caller: Phone,
  callId = uniq('call'),
  branch = `z9hG4bK${uniq('c')}`,
  extra: Partial<Parameters<typeof request>[0]> = {},
): string {
  sendAliceToBob(caller, 'INVITE', callId, branch, extra);
  return branch;
}

function lastInvite(p: Phone): IncomingRequestMessage {
  const list = p.requests('INVITE');
  const last = list[list.length - 1];
  if (!last) throw new Error('no INVITE');
  return last;
}

describe('SipProxy forking and response aggregation (RFC 3261 §16.7)', () => {
  it('forks an INVITE to three targets; the first 200 wins, the others get CANCEL and answer 487', async () => {
    const r = setup(3);
    r.onRemote = (_key, phone) => {
      phone.onRequest = (req) => {
        if (req.method === 'INVITE') phone.respond(req, 180);
        if (req.method === 'CANCEL') {
          phone.respond(req, 200);
          phone.respond(lastInvite(phone), 487);
        }
      };
    };
    const caller = r.localPhone();
    invite(caller);
    await settle();
    expect([...r.remotes.keys()].sort()).toEqual(['t0', 't1', 't2']);
    const winner = r.remotes.get('t1') as Phone;
    winner.respond(lastInvite(winner), 200, { contact: 'sip:bob@10.0.0.2' });
    await settle();
    expect(caller.statuses('INVITE')).toEqual([100, 180, 180, 180, 200]);
    for (const k of ['t0', 't2']) {
      const loser = r.remotes.get(k) as Phone;
      expect(loser.requests('CANCEL')).toHaveLength(1);
      const cancel = loser.requests('CANCEL')[0] as IncomingRequestMessage;
      // The CANCEL carries the branch of the INVITE it cancels (RFC 3261 §9.1).
      expect(cancel.viaBranch).toBe(lastInvite(loser).viaBranch);
      // sip.js's INVITE client transaction ACKs the 487 itself (hop by hop).
      expect(loser.requests('ACK')).toHaveLength(1);
    }
    expect((r.remotes.get('t1') as Phone).requests('CANCEL')).toHaveLength(0);
    expect(caller.statuses('INVITE')).not.toContain(487);
    expect(r.proxy.status().requestsForwarded).toBe(3);
  });

  it.each([
    [[486, 603, 404], 603],
    [[486, 404, 404], 486],
    [[404, 404, 404], 404],
    [[486, 480, 404], 486],
    [[503, 503, 503], 500],
    [[302, 486, 500], 302],
    [[500, 486, 404], 486],
  ])('all branches failing with %j: the caller gets %i', async (codes, expected) => {
    const r = setup(3);
    r.onRemote = (key, phone) => {
      phone.onRequest = (req) => {
        if (req.method === 'INVITE') phone.respond(req, codes[Number(key.slice(1))] as number);
      };
    };
    const caller = r.localPhone();
    invite(caller);
    await settle();
    const finals = caller.statuses('INVITE').filter((s) => s >= 200);
    expect(finals).toEqual([expected]);
    // every non-2xx final was ACKed by the proxy's client transaction, never forwarded upstream
    for (const p of r.remotes.values()) expect(p.requests('ACK')).toHaveLength(1);
  });

  it('merges the challenges of every 401/407 into the chosen one', async () => {
    const r = setup(2);
    r.onRemote = (key, phone) => {
      phone.onRequest = (req) => {
        if (req.method !== 'INVITE') return;
        if (key === 't0') phone.respond(req, 401, { extra: ['WWW-Authenticate: Digest realm="a", nonce="1"'] });
        else phone.respond(req, 407, { extra: ['Proxy-Authenticate: Digest realm="b", nonce="2"'] });
      };
    };
    const caller = r.localPhone();
    invite(caller);
    await settle();
    const final = caller.responses('INVITE').find((m) => (m.statusCode ?? 0) >= 200);
    expect(final?.statusCode).toBe(401);
    expect(final?.getHeaders('www-authenticate')).toEqual(['Digest realm="a", nonce="1"']);
    expect(final?.getHeaders('proxy-authenticate')).toEqual(['Digest realm="b", nonce="2"']);
  });

  it('answers 404 when the resolver knows no such AOR', async () => {
    const r = setup(0);
    r.resolutions.delete(BOB);
    const caller = r.localPhone();
    invite(caller);
    await settle();
    expect(caller.statuses('INVITE')).toEqual([100, 404]);
    expect(r.proxy.status().failures['not-found']).toBe(1);
  });

  it('answers 480 when the resolver reports the AOR unavailable, or no target can be reached', async () => {
    const r = setup(2);
    r.unreachable.add('t0').add('t1');
    const caller = r.localPhone();
    invite(caller);
    await settle();
    expect(caller.statuses('INVITE')).toEqual([100, 480]);
    expect(r.proxy.status().failures['connect-failed']).toBe(2);

    r.resolutions.set(BOB, { failure: 'unavailable', reason: 'registrations expired' });
    invite(caller);
    await settle();
    expect(caller.statuses('INVITE').slice(2)).toEqual([100, 480]);
  });

  it('answers 408 when every branch stays silent until timer C', async () => {
    const r = setup(2, { branchTimeoutMs: 5_000 });
    const caller = r.localPhone();
    invite(caller);
    await settle();
    expect(caller.statuses('INVITE')).toEqual([100]);
    r.clock.advance(4_999);
    await settle();
    expect(caller.statuses('INVITE')).toEqual([100]);
    r.clock.advance(1);
    await settle();
    expect(caller.statuses('INVITE')).toEqual([100, 408]);
  });

  it('timer C CANCELs a ringing branch and the branch counts as 408 if it never answers', async () => {
    const r = setup(1, { branchTimeoutMs: 5_000, cancelGraceMs: 1_000 });
    r.onRemote = (_k, phone) => {
      phone.onRequest = (req) => {
        if (req.method === 'INVITE') phone.respond(req, 180);
      };
    };
    const caller = r.localPhone();
    invite(caller);
    await settle();
    r.clock.advance(5_000);
    await settle();
    const callee = r.remotes.get('t0') as Phone;
    expect(callee.requests('CANCEL')).toHaveLength(1);
    r.clock.advance(1_000);
    await settle();
    expect(caller.statuses('INVITE')).toEqual([100, 180, 408]);
  });

  it('a CANCEL from the caller cancels every branch; the caller gets 200 for it and 487 for the INVITE', async () => {
    const r = setup(2);
    r.onRemote = (_k, phone) => {
      phone.onRequest = (req) => {
        if (req.method === 'INVITE') phone.respond(req, 180);
        if (req.method === 'CANCEL') {
          phone.respond(req, 200);
          phone.respond(lastInvite(phone), 487);
        }
      };
    };
    const caller = r.localPhone();
    const callId = uniq('call');
    const branch = invite(caller, callId);
    await settle();
    caller.send(request({ method: 'CANCEL', ruri: BOB, from: ALICE, to: BOB, callId, branch, viaHost: caller.host }));
    await settle();
    expect(caller.statuses('CANCEL')).toEqual([200]);
    expect(caller.statuses('INVITE')).toEqual([100, 180, 180, 487]);
    for (const p of r.remotes.values()) expect(p.requests('CANCEL')).toHaveLength(1);
  });

  it('a CANCEL that matches no INVITE gets 481', async () => {
    const r = setup(1);
    const caller = r.localPhone();
    caller.send(
      request({
        method: 'CANCEL',
        ruri: BOB,
        from: ALICE,
        to: BOB,
        callId: 'x',
        branch: 'z9hG4bKnone',
        viaHost: caller.host,
      }),
    );
    await settle();
    expect(caller.statuses('CANCEL')).toEqual([481]);
  });

  it('answers 483 to Max-Forwards 0 and forwards with Max-Forwards decremented', async () => {
    const r = setup(1);
    const caller = r.localPhone();
    invite(caller, uniq('call'), `z9hG4bK${uniq('c')}`, { maxForwards: 0 });
    await settle();
    expect(caller.statuses('INVITE')).toEqual([100, 483]);
    expect(r.remotes.size).toBe(0);
    invite(caller, uniq('call'), `z9hG4bK${uniq('c')}`, { maxForwards: 5 });
    await settle();
    expect(lastInvite(r.remotes.get('t0') as Phone).getHeader('max-forwards')).toBe('4');
  });

  it('detects a loop back to itself (482) but lets a spiral with a new Request-URI through', async () => {
    const r = setup(0);
    // The target leads straight back into this proxy: the forwarded INVITE arrives again.
    r.resolutions.set(BOB, { targets: [target('self-loop', 'bob@ov.test', nodeId(0x55))] });
    r.onRemote = (_k, phone) => {
      const back = r.overlayPhone('alice@ov.test', nodeId(0x55));
      phone.onRequest = (req) => back.send(req.toString());
      back.end.onMessage((m) => void phone.end.send(m));
    };
    const caller = r.localPhone();
    invite(caller);
    await settle();
    expect(caller.statuses('INVITE')).toEqual([100, 482]);
    expect(r.proxy.status().failures['loop']).toBe(1);
  });
});

describe('SipProxy best response, end to end', () => {
  async function finalFor(codes: readonly number[], order: readonly number[]): Promise<number[]> {
    const r = setup(codes.length);
    try {
      const caller = r.localPhone();
      invite(caller);
      await settle();
      for (const i of order) {
        const p = r.remotes.get(`t${i}`) as Phone;
        p.respond(lastInvite(p), codes[i] as number);
        await settle(2);
      }
      await settle();
      return caller.statuses('INVITE').filter((s) => s >= 200);
    } finally {
      r.proxy.close();
    }
  }

  it('any arrival order of the branch answers gives the caller the same single final response', async () => {
    const code = fc.constantFrom(404, 408, 480, 486, 487, 500, 503, 302, 603, 600, 401);
    await fc.assert(
      fc.asyncProperty(fc.array(code, { minLength: 2, maxLength: 3 }), fc.func(fc.integer()), async (codes, key) => {
        const natural = codes.map((_, i) => i);
        const shuffled = [...natural].sort((a, b) => key(a) - key(b) || a - b);
        const a = await finalFor(codes, natural);
        const b = await finalFor(codes, shuffled);
        expect(a).toHaveLength(1);
        expect(b).toEqual(a);
      }),
      { numRuns: 15 },
    );
  });
});

describe('SipProxy 100 Trying (RFC 3261 §17.2.1)', () => {
  it('sends no 100 when the first answer comes within 200 ms, and a 100 at 200 ms otherwise', async () => {
    const r = setup(1, { tryingDelayMs: 200 });
    const caller = r.localPhone();
    invite(caller);
    await settle();
    const callee = r.remotes.get('t0')!;
    r.clock.advance(150);
    callee.respond(lastInvite(callee), 180);
    await settle();
    r.clock.advance(100);
    await settle();
    expect(caller.statuses('INVITE')).toEqual([180]);

    invite(caller);
    await settle();
    r.clock.advance(199);
    await settle();
    expect(caller.statuses('INVITE')).toEqual([180]);
    r.clock.advance(1);
    await settle();
    expect(caller.statuses('INVITE')).toEqual([180, 100]);
    const second = r.remotes.get('t0')!;
    second.respond(lastInvite(second), 486);
    await settle();
    expect(caller.statuses('INVITE')).toEqual([180, 100, 486]);
    expect(() => rig({ tryingDelayMs: -1 })).toThrow(/tryingDelayMs/);
  });
});

describe('SipProxy message hygiene', () => {
  it('answers 400 naming the field to a request whose CSeq method differs', async () => {
    const r = setup(1);
    const caller = r.localPhone();
    caller.send(
      request({
        method: 'INVITE',
        ruri: BOB,
        from: ALICE,
        to: BOB,
        callId: 'c',
        branch: 'z9hG4bKq',
        viaHost: caller.host,
      }).replace('CSeq: 1 INVITE', 'CSeq: 1 BYE'),
    );
    await settle();
    const resp = caller.responses()[0];
    expect(resp?.statusCode).toBe(400);
    expect(resp?.reasonPhrase).toContain('CSeq');
  });

  it("applies the local interface's refusals to text from other parties too (505 for SIP/3.0, 400 for a short body)", async () => {
    const r = setup(1);
    const caller = r.localPhone();
    const invite = (branch: string) =>
      request({ method: 'INVITE', ruri: BOB, from: ALICE, to: BOB, callId: branch, branch, viaHost: caller.host });
    caller.send(invite('z9hG4bKv').replace(' SIP/2.0\r\n', ' SIP/3.0\r\n'));
    caller.send(invite('z9hG4bKf').replace(/Content-Length: \d+/, 'Content-Length: 9999'));
    await settle();
    const answers = caller.responses();
    expect(answers.map((a) => a.statusCode)).toEqual([505, 400]);
    expect(answers[1]?.reasonPhrase).toContain('Content-Length');
    expect(r.proxy.status().transactions).toBe(0);
  });

  it('drops garbage and stray responses and counts them', async () => {
    const r = setup(1);
    const caller = r.localPhone();
    caller.send('not sip at all\r\n\r\n');
    caller.send(
      `SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP ${hostOf(r.node)};branch=z9hG4bKunknown\r\nFrom: <${ALICE}>;tag=1\r\nTo: <${BOB}>;tag=2\r\nCall-ID: s\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n`,
    );
    caller.send('x'.repeat(70_000));
    await settle();
    expect(caller.received).toHaveLength(0);
    const f = r.proxy.status().failures;
    expect(f['unparseable']).toBe(1);
    expect(f['stray-response']).toBe(1);
    expect(f['oversized']).toBe(1);
  });

  it('refuses more concurrent transactions than configured with 503', async () => {
    const r = setup(1, { maxTransactions: 2 });
    const caller = r.localPhone();
    invite(caller);
    invite(caller);
    invite(caller);
    await settle();
    expect(caller.statuses('INVITE').filter((s) => s === 503)).toHaveLength(1);
  });
});

describe('SipProxy routing details', () => {
  it('sends a request for a GRUU of a local device straight to it, without resolving', async () => {
    const r = setup(0);
    const gruu = 'sip:bob@ov.test;gr=AQIDBA~~';
    const device = registerLocal(r, [gruu]);
    let resolved = 0;
    const resolver = r.resolutions;
    const original = resolver.get.bind(resolver);
    resolver.get = (k: string) => {
      resolved++;
      return original(k);
    };
    const caller = r.localPhone();
    invite(caller, uniq('call'), `z9hG4bK${uniq('c')}`, { ruri: gruu, to: gruu });
    await settle();
    expect(device.requests('INVITE')).toHaveLength(1);
    expect(resolved).toBe(0);
  });

  it('writes the local interface address:port as Via sent-by towards a phone (RFC 3261 §18.2.2), the peer token towards peers', async () => {
    const r = setup(1, { localRouteUri: 'sip:127.0.0.1:5070' });
    const device = registerLocal(r, ['sip:carol@ov.test']);
    const peer = r.overlayPhone('alice@ov.test', nodeId(0x42));
    const callId = uniq('call');
    peer.send(
      request({
        method: 'INVITE',
        ruri: 'sip:carol@ov.test',
        from: ALICE,
        to: 'sip:carol@ov.test',
        callId,
        branch: 'z9hG4bKlocalvia',
        viaHost: peer.host,
      }),
    );
    await settle();
    const inv = lastInvite(device);
    expect(inv.getHeaders('via')[0]).toMatch(/^SIP\/2\.0\/TCP 127\.0\.0\.1:5070;branch=z9hG4bK/);
    // The phone's answer, sent to that sent-by, is ours: it goes upstream.
    device.respond(inv, 180);
    device.respond(inv, 200, { contact: 'sip:carol@127.0.0.1:5099' });
    await settle();
    expect(peer.statuses('INVITE')).toEqual([100, 180, 200]);
    // Towards another peer the Via names this peer.
    const caller = r.localPhone();
    invite(caller);
    await settle();
    expect(lastInvite(r.remotes.get('t0')!).getHeaders('via')[0]).toContain(`${hostOf(r.node)};branch=z9hG4bK`);
  });

  it('record-routes twice across the local/overlay boundary and strips a Route to its local interface', async () => {
    const r = setup(1, { localRouteUri: 'sip:127.0.0.1:5060;transport=tcp' });
    const caller = r.localPhone();
    invite(caller, uniq('call'), `z9hG4bK${uniq('c')}`, { routes: ['<sip:127.0.0.1:5060;transport=tcp;lr>'] });
    await settle();
    const inv = lastInvite(r.remotes.get('t0') as Phone);
    expect(inv.getHeaders('route')).toEqual([]);
    // UAC side uses the list bottom first: the local entry is the one facing the caller.
    expect(inv.getHeaders('record-route')).toEqual([
      `<sip:${hostOf(r.node)};lr>`,
      '<sip:127.0.0.1:5060;transport=tcp;lr>',
    ]);
  });

  it('refuses bad options with an error naming the option', () => {
    expect(() => rig({ branchTimeoutMs: 0 })).toThrow(/branchTimeoutMs/);
    expect(() => rig({ nodeId: new Uint8Array(0) })).toThrow(/nodeId/);
    expect(() => rig({ localRouteUri: 'not a uri' })).toThrow(/localRouteUri/);
  });
});

describe('SipProxy ACK handling', () => {
  it('absorbs the caller’s ACK for a non-2xx final (hop by hop) instead of forwarding it', async () => {
    const r = setup(1);
    r.onRemote = (_k, phone) => {
      phone.onRequest = (req) => {
        if (req.method === 'INVITE') phone.respond(req, 486);
      };
    };
    const caller = r.localPhone();
    const callId = uniq('call');
    const branch = invite(caller, callId);
    await settle();
    expect(caller.statuses('INVITE')).toEqual([100, 486]);
    const final = caller.responses('INVITE')[1];
    caller.send(
      request({
        method: 'ACK',
        ruri: BOB,
        from: ALICE,
        to: BOB,
        toTag: final?.toTag,
        callId,
        branch,
        viaHost: caller.host,
      }),
    );
    await settle();
    // The only ACK downstream is the one the proxy's INVITE client transaction sent for the 486.
    const acks = (r.remotes.get('t0') as Phone).requests('ACK');
    expect(acks).toHaveLength(1);
    expect(acks[0]?.viaBranch).toBe(lastInvite(r.remotes.get('t0') as Phone).viaBranch);
  });
});

describe('SipProxy bounded lookups', () => {
  it('answers 480 when the lookup never settles, and ignores its late result', async () => {
    let release: ((v: { failure: 'not-found'; reason: string }) => void) | undefined;
    const r = setup(0, {
      resolveTimeoutMs: 1_000,
      resolver: { resolve: () => new Promise((res) => (release = res)) },
    });
    const caller = r.localPhone();
    invite(caller);
    await settle();
    r.clock.advance(1_000);
    await settle();
    expect(caller.statuses('INVITE')).toEqual([100, 480]);
    release?.({ failure: 'not-found', reason: 'late' });
    await settle();
    expect(caller.statuses('INVITE')).toEqual([100, 480]);
    expect(r.proxy.status().failures['resolve-timeout']).toBe(1);
  });
});

describe('SipProxy malformed headers', () => {
  it('answers 400 naming Route / Max-Forwards, and leaves no transaction behind for them', async () => {
    const r = setup(1);
    const caller = r.localPhone();
    invite(caller, uniq('call'), `z9hG4bK${uniq('c')}`, { routes: ['this is not a name-addr'] });
    invite(caller, uniq('call'), `z9hG4bK${uniq('c')}`, { maxForwards: 300 });
    await settle();
    const finals = caller.responses('INVITE').filter((m) => (m.statusCode ?? 0) >= 200);
    expect(finals.map((m) => [m.statusCode, /route|Max-Forwards/i.test(m.reasonPhrase ?? '')])).toEqual([
      [400, true],
      [400, true],
    ]);
    expect(r.remotes.size).toBe(0);
  });
});
