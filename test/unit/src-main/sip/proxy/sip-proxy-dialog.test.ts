/**
 * A whole call across two peers' proxies: UA1 (local at A) → proxy A → proxy B → UA2 (local at B), the
 * dialog's ACK and BYE routed back through both by Route, in both directions.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { IncomingRequestMessage, IncomingResponseMessage } from 'sip.js/lib/core/index.js';
import { VirtualClock } from '../../../../../src-main/reload/clock';
import { SipProxy } from '../../../../../src-main/sip/proxy/sip-proxy';
import type { LocalBinding, ProxyTarget } from '../../../../../src-main/sip/proxy/proxy-interfaces';
import {
  createMemorySipTransportPair,
  type MemorySipTransport,
} from '../../../../../src-main/sip/transport/memory-sip-transport';
import { hostOf, LOCAL_PARTY, nodeId, overlayParty, Phone, request, settle, target } from './proxy-harness';

const A = nodeId(0xaa);
const B = nodeId(0xbb);
const USERS = new Map([
  [Buffer.from(A).toString('hex'), 'alice@ov.test'],
  [Buffer.from(B).toString('hex'), 'bob@ov.test'],
]);

interface Peer {
  proxy: SipProxy;
  node: Uint8Array;
  bindings: Map<string, LocalBinding[]>;
}

const peers = new Map<string, Peer>();
const flows = new Map<string, MemorySipTransport>();

afterEach(() => {
  for (const p of peers.values()) p.proxy.close();
  peers.clear();
  flows.clear();
});

/** One flow per pair of peers, reused in both directions, like the connection pool. */
function connect(from: Peer, t: ProxyTarget): Promise<MemorySipTransport> {
  const last = t.destinations[t.destinations.length - 1];
  if (!last || last.type !== 'node') return Promise.reject(new Error('no node'));
  const toHex = Buffer.from(last.id).toString('hex');
  const fromHex = Buffer.from(from.node).toString('hex');
  const existing = flows.get(`${fromHex}>${toHex}`);
  if (existing && !existing.closed) return Promise.resolve(existing);
  const to = peers.get(toHex);
  if (!to) return Promise.reject(new Error('unknown peer'));
  const [mine, theirs] = createMemorySipTransportPair({
    a: { id: `${fromHex}>${toHex}`, party: overlayParty(last.id, USERS.get(toHex) ?? '') },
    b: { id: `${toHex}>${fromHex}`, party: overlayParty(from.node, USERS.get(fromHex) ?? '') },
  });
  flows.set(`${fromHex}>${toHex}`, mine);
  flows.set(`${toHex}>${fromHex}`, theirs);
  to.proxy.attach(theirs);
  return Promise.resolve(mine);
}

function peer(node: Uint8Array, user: string, routes: Map<string, ProxyTarget[]>): Peer {
  const bindings = new Map<string, LocalBinding[]>();
  const p: Peer = { node, bindings, proxy: undefined as unknown as SipProxy };
  p.proxy = new SipProxy({
    tryingDelayMs: 0,
    nodeId: node,
    clock: new VirtualClock(),
    ownUser: user,
    resolver: {
      resolve: async (uri) => {
        const targets = routes.get(uri);
        return targets ? { targets } : { failure: 'not-found', reason: uri };
      },
    },
    connector: { connect: (t) => connect(p, t) },
    localBindings: { lookup: (uri) => bindings.get(uri) ?? [] },
  });
  peers.set(Buffer.from(node).toString('hex'), p);
  return p;
}

function localUa(p: Peer, uris: string[], contact: string, name: string): Phone {
  const [proxySide, uaSide] = createMemorySipTransportPair({
    a: { id: `${name}-at-proxy`, party: LOCAL_PARTY },
    b: { id: `${name}-ua`, party: overlayParty(p.node, 'self') },
  });
  p.proxy.attach(proxySide);
  for (const u of [...uris, contact]) p.bindings.set(u, [{ transport: proxySide, contact }]);
  return new Phone(uaSide, `${name}.ua.test`);
}

function vias(m: IncomingRequestMessage | IncomingResponseMessage): string[] {
  return m.getHeaders('via').flatMap((v) => v.split(',').map((s) => s.trim()));
}

describe('a dialog through two peers', () => {
  it('INVITE → 180 → 200 → ACK → BYE (both directions), with Via and Record-Route added and removed', async () => {
    const routesA = new Map([['sip:bob@ov.test', [target('bob-b', 'bob@ov.test', B)]]]);
    const a = peer(A, 'alice@ov.test', routesA);
    const b = peer(B, 'bob@ov.test', new Map());
    const ua1 = localUa(a, ['sip:alice@ov.test'], 'sip:alice@127.0.0.1:5070', 'ua1');
    const ua2 = localUa(b, ['sip:bob@ov.test'], 'sip:bob@127.0.0.1:5080', 'ua2');

    ua2.onRequest = (req) => {
      if (req.method === 'INVITE') {
        ua2.respond(req, 180, { toTag: 'b1' });
        ua2.respond(req, 200, { toTag: 'b1', contact: 'sip:bob@127.0.0.1:5080' });
      }
      if (req.method === 'BYE') ua2.respond(req, 200);
    };
    ua1.onRequest = (req) => {
      if (req.method === 'BYE') ua1.respond(req, 200);
    };

    ua1.send(
      request({
        method: 'INVITE',
        ruri: 'sip:bob@ov.test',
        from: 'sip:alice@ov.test',
        fromTag: 'a1',
        to: 'sip:bob@ov.test',
        callId: 'dialog-1',
        branch: 'z9hG4bKinv1',
        viaHost: ua1.host,
        contact: 'sip:alice@127.0.0.1:5070',
        extra: ['Content-Type: application/sdp'],
        body: 'v=0\r\n',
      }),
    );
    await settle();

    // What UA2 received: three Vias (B, A, UA1), Record-Route B over A, R-URI = its registered Contact.
    const inv = ua2.requests('INVITE')[0] as IncomingRequestMessage;
    expect(inv.ruri?.toString()).toBe('sip:bob@127.0.0.1:5080');
    const v = vias(inv);
    expect(v).toHaveLength(3);
    expect(v[0]).toContain(hostOf(B));
    expect(v[1]).toContain(hostOf(A));
    expect(v[2]).toBe('SIP/2.0/TCP ua1.ua.test;branch=z9hG4bKinv1');
    expect(v[0]).toMatch(/branch=z9hG4bK[0-9a-f]{16}\./);
    expect(inv.getHeaders('record-route')).toEqual([`<sip:${hostOf(B)};lr>`, `<sip:${hostOf(A)};lr>`]);
    expect(inv.getHeader('max-forwards')).toBe('68');
    expect(inv.body).toBe('v=0\r\n');
    expect(inv.getHeader('content-type')).toBe('application/sdp');
    // B verified the caller against A's certificate and asserted it to its local UA.
    expect(inv.getHeaders('p-asserted-identity')).toEqual(['<sip:alice@ov.test>']);

    // What UA1 received: 100 (from A), 180, 200, each with only its own Via left.
    expect(ua1.statuses('INVITE')).toEqual([100, 180, 200]);
    const ok = ua1.responses('INVITE')[2] as IncomingResponseMessage;
    expect(vias(ok)).toEqual(['SIP/2.0/TCP ua1.ua.test;branch=z9hG4bKinv1']);
    const rr = ok.getHeaders('record-route');
    expect(rr).toEqual([`<sip:${hostOf(B)};lr>`, `<sip:${hostOf(A)};lr>`]);

    // UA1's route set is the Record-Route reversed; ACK and BYE go to UA2's Contact.
    const routeSet = [...rr].reverse();
    const inDialog = (method: string, cseq: number, branch: string): string =>
      request({
        method,
        ruri: 'sip:bob@127.0.0.1:5080',
        from: 'sip:alice@ov.test',
        fromTag: 'a1',
        to: 'sip:bob@ov.test',
        toTag: 'b1',
        callId: 'dialog-1',
        cseq,
        branch,
        viaHost: ua1.host,
        routes: routeSet,
      });
    ua1.send(inDialog('ACK', 1, 'z9hG4bKack1'));
    await settle();
    const ack = ua2.requests('ACK')[0] as IncomingRequestMessage;
    expect(ack).toBeDefined();
    expect(ack.getHeaders('route')).toEqual([]);
    expect(vias(ack)).toHaveLength(3);

    ua1.send(inDialog('BYE', 2, 'z9hG4bKbye1'));
    await settle();
    const bye = ua2.requests('BYE')[0] as IncomingRequestMessage;
    expect(bye.ruri?.toString()).toBe('sip:bob@127.0.0.1:5080');
    expect(bye.getHeaders('record-route')).toEqual([]);
    expect(ua1.statuses('BYE')).toEqual([200]);

    // The other direction: UA2 hangs up a second dialog leg using its route set (Record-Route in order).
    ua2.send(
      request({
        method: 'BYE',
        ruri: 'sip:alice@127.0.0.1:5070',
        from: 'sip:bob@ov.test',
        fromTag: 'b1',
        to: 'sip:alice@ov.test',
        toTag: 'a1',
        callId: 'dialog-1',
        cseq: 1,
        branch: 'z9hG4bKbye2',
        viaHost: ua2.host,
        routes: rr,
      }),
    );
    await settle();
    expect(ua1.requests('BYE')).toHaveLength(1);
    expect(ua2.statuses('BYE')).toEqual([200]);
    expect(a.proxy.status().failures).toEqual({});
    expect(b.proxy.status().failures).toEqual({});
  });
});
