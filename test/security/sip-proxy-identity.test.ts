/**
 * Caller identity at the proxy (issue 11 item 7): a peer may only send as the user its certificate names
 * (or an alias that user registered); P-Asserted-Identity is never taken from outside.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { IncomingRequestMessage } from 'sip.js/lib/core/index.js';
import {
  nodeId,
  registerLocal,
  request,
  rig,
  settle,
  uniq,
  type Phone,
  type Rig,
} from '../unit/src-main/sip/proxy/proxy-harness';

let current: Rig | undefined;
afterEach(() => {
  current?.proxy.close();
  current = undefined;
});

const BOB = 'sip:bob@ov.test';
const MALLORY_NODE = nodeId(0x66);

function invite(p: Phone, from: string, extra: string[] = []): void {
  p.send(
    request({
      method: 'INVITE',
      ruri: BOB,
      from,
      to: BOB,
      callId: uniq('call'),
      branch: `z9hG4bK${uniq('s')}`,
      viaHost: p.host,
      extra,
    }),
  );
}

function setup(options = {}): { r: Rig; bob: Phone } {
  const r = rig({ ownUser: 'bob@ov.test', ...options });
  current = r;
  const bob = registerLocal(r, [BOB]);
  bob.onRequest = (req) => {
    if (req.method === 'INVITE') bob.respond(req, 486);
  };
  return { r, bob };
}

describe('SIP proxy caller identity', () => {
  it('answers 403 when the From AOR is not the user of the peer certificate', async () => {
    const { r, bob } = setup();
    const mallory = r.overlayPhone('mallory@ov.test', MALLORY_NODE);
    invite(mallory, 'sip:alice@ov.test');
    await settle();
    expect(mallory.statuses('INVITE')).toEqual([100, 403]);
    expect(bob.requests('INVITE')).toHaveLength(0);
    expect(r.proxy.status().failures['forbidden-identity']).toBe(1);
  });

  it('compares AORs case-insensitively in the host and %-decoded in the user, nothing looser', async () => {
    const { r, bob } = setup();
    const alice = r.overlayPhone('alice@ov.test', nodeId(0x11));
    invite(alice, 'sip:%61lice@OV.test');
    await settle();
    expect(bob.requests('INVITE')).toHaveLength(1);
    invite(alice, 'sip:Alice@ov.test');
    invite(alice, 'sip:alice@ov.test.evil');
    await settle();
    expect(alice.statuses('INVITE').filter((s) => s === 403)).toHaveLength(2);
  });

  it('accepts an alias the certified user registered, and asserts it', async () => {
    const { r, bob } = setup({
      aliasesOf: async (user: string) => (user === 'alice@ov.test' ? ['alice-laptop@ov.test'] : []),
    });
    const alice = r.overlayPhone('alice@ov.test', nodeId(0x11));
    invite(alice, 'sip:alice-laptop@ov.test');
    await settle();
    const inv = bob.requests('INVITE')[0] as IncomingRequestMessage;
    expect(inv.getHeaders('p-asserted-identity')).toEqual(['<sip:alice-laptop@ov.test>']);
  });

  it('drops an ACK whose From is not the certified user', async () => {
    const { r, bob } = setup();
    const mallory = r.overlayPhone('mallory@ov.test', MALLORY_NODE);
    mallory.send(
      request({
        method: 'ACK',
        ruri: BOB,
        from: 'sip:alice@ov.test',
        to: BOB,
        toTag: 't',
        callId: 'x',
        branch: 'z9hG4bKack',
        viaHost: mallory.host,
      }),
    );
    await settle();
    expect(bob.requests('ACK')).toHaveLength(0);
  });

  it('strips a P-Asserted-Identity that came from another peer and asserts the verified caller instead', async () => {
    const { r, bob } = setup();
    const alice = r.overlayPhone('alice@ov.test', nodeId(0x11));
    invite(alice, 'sip:alice@ov.test', [
      'P-Asserted-Identity: <sip:ceo@ov.test>',
      'P-Asserted-Identity: <tel:+15551234>',
    ]);
    await settle();
    const inv = bob.requests('INVITE')[0] as IncomingRequestMessage;
    expect(inv.getHeaders('p-asserted-identity')).toEqual(['<sip:alice@ov.test>']);
  });

  it('strips a P-Asserted-Identity from a local UA; a local UA is asserted only as the peer user', async () => {
    const { r, bob } = setup();
    const local = r.localPhone();
    invite(local, 'sip:someone@ov.test', ['P-Asserted-Identity: <sip:ceo@ov.test>']);
    invite(local, 'sip:bob@ov.test', ['P-Asserted-Identity: <sip:ceo@ov.test>']);
    await settle();
    const [first, second] = bob.requests('INVITE');
    expect(first?.getHeaders('p-asserted-identity')).toEqual([]);
    expect(second?.getHeaders('p-asserted-identity')).toEqual(['<sip:bob@ov.test>']);
  });

  it('sends no P-Asserted-Identity to other peers (they trust only the connection certificate)', async () => {
    const r = rig({ ownUser: 'alice@ov.test' });
    current = r;
    r.resolutions.set(BOB, {
      targets: [{ key: 'b', aor: 'bob@ov.test', destinations: [{ type: 'node', id: nodeId(0xbb) }] }],
    });
    const local = r.localPhone();
    invite(local, 'sip:alice@ov.test', ['P-Asserted-Identity: <sip:ceo@ov.test>']);
    await settle();
    const inv = (r.remotes.get('b') as Phone).requests('INVITE')[0] as IncomingRequestMessage;
    expect(inv.getHeaders('p-asserted-identity')).toEqual([]);
  });

  it('a CANCEL from another flow cannot cancel someone else’s INVITE (481)', async () => {
    const { r, bob } = setup();
    bob.onRequest = (req) => {
      if (req.method === 'INVITE') bob.respond(req, 180);
    };
    const alice = r.overlayPhone('alice@ov.test', nodeId(0x11));
    const mallory = r.overlayPhone('mallory@ov.test', MALLORY_NODE);
    alice.send(
      request({
        method: 'INVITE',
        ruri: BOB,
        from: 'sip:alice@ov.test',
        to: BOB,
        callId: 'c1',
        branch: 'z9hG4bKshared',
        viaHost: alice.host,
      }),
    );
    await settle();
    mallory.send(
      request({
        method: 'CANCEL',
        ruri: BOB,
        from: 'sip:mallory@ov.test',
        to: BOB,
        callId: 'c1',
        branch: 'z9hG4bKshared',
        viaHost: alice.host,
      }),
    );
    await settle();
    expect(mallory.statuses('CANCEL')).toEqual([481]);
    expect(bob.requests('CANCEL')).toHaveLength(0);
  });

  it('a response injected on another flow, even with the right branch, does not reach the transaction', async () => {
    const r = rig();
    current = r;
    r.resolutions.set(BOB, {
      targets: [0x21, 0x22].map((b, i) => ({
        key: `t${i}`,
        aor: 'bob@ov.test',
        destinations: [{ type: 'node' as const, id: nodeId(b) }],
      })),
    });
    const caller = r.localPhone();
    invite(caller, 'sip:alice@ov.test');
    await settle();
    const honest = r.remotes.get('t0') as Phone;
    const forger = r.remotes.get('t1') as Phone;
    const victimInvite = honest.requests('INVITE')[0] as IncomingRequestMessage;
    // t1 learned (or guessed) t0's branch and answers 200 for it on its own flow.
    forger.respond(victimInvite, 200, { toTag: 'forged' });
    await settle();
    expect(caller.statuses('INVITE').filter((s) => s === 200)).toEqual([]);
    expect(r.proxy.status().failures['stray-response']).toBe(1);
  });
});
