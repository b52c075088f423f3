/**
 * SipService in the overlay simulation (5 ReloadNodes, AppAttach over memory flows, one virtual clock):
 * a UA at peer A registers the peer's user, a UA at peer B calls that AOR and the whole dialog
 * (INVITE/180/200/ACK/BYE) runs through both peers' registrar, resolver, connections and proxy; an AOR
 * nobody registered gets 404; a REGISTER for another user gets 403.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IncomingRequestMessage, IncomingResponseMessage } from 'sip.js/lib/core/index.js';
import { createLogger } from '../../../../src-main/common/logger';
import type { OverlaySimulation } from '../../../../src-main/reload/sim';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { SipLocalPortInUseError, SipService } from '../../../../src-main/sip/index';
import { createMemorySipTransportPair } from '../../../../src-main/sip/transport/memory-sip-transport';
import { Phone, request } from './proxy/proxy-harness';
import { DOMAIN, startSim, wallNow } from './resolution/registration-sim';

const log = createLogger({ level: 'error' });
const A = 0;
const B = 3;
const aor = (i: number) => `sim${i}@${DOMAIN}`;

describe('SipService (overlay simulation, 5 peers)', () => {
  let sim: OverlaySimulation;
  const services: SipService[] = [];
  let flow = 0;

  beforeAll(async () => {
    sim = await startSim(5, 11);
    for (const n of sim.nodes) {
      const s = new SipService({
        node: n.node,
        overlayName: DOMAIN,
        policy: sim.policy,
        clock: sim.clock,
        log,
        now: () => wallNow(sim),
        proxy: { tryingDelayMs: 0 }, // 100 Trying first in every expectation below
      });
      await s.start();
      services.push(s);
    }
  }, 120_000);

  afterAll(async () => {
    for (const s of services) await sim.until(s.stop());
  });

  /** A UA on peer `i`'s machine: one end of a memory pair, the other handed to the service. */
  function ua(i: number, port: number): Phone {
    flow++;
    const [serviceSide, uaSide] = createMemorySipTransportPair({
      a: { id: `ua${flow}-at-peer`, party: { kind: 'local', address: '127.0.0.1', port } },
      b: { id: `ua${flow}`, party: { kind: 'local', address: '127.0.0.1', port: 5060 } },
    });
    services[i]!.attachLocal(serviceSide);
    return new Phone(uaSide, `127.0.0.1:${port}`);
  }

  function registerText(phone: Phone, user: string, contact: string, expires: number, n = 1): string {
    return request({
      method: 'REGISTER',
      ruri: `sip:${DOMAIN}`,
      from: `sip:${user}`,
      to: `sip:${user}`,
      callId: `reg-${phone.host}-${user}`,
      cseq: n,
      branch: `z9hG4bKreg${phone.host.replace(/\W/g, '')}${n}`,
      viaHost: phone.host,
      contact,
      extra: [`Expires: ${expires}`],
    });
  }

  it('registers at A, B calls the AOR: INVITE/180/200/ACK/BYE complete through both peers', async () => {
    const callee = ua(A, 5070);
    const calleeContact = 'sip:alice@127.0.0.1:5070';
    const dialogContact = 'sip:uas@127.0.0.1:5070;transport=tcp';
    callee.send(registerText(callee, aor(A), calleeContact, 600));
    await sim.run(3_000);
    const reg = callee.responses('REGISTER');
    expect(reg.map((r) => r.statusCode)).toEqual([200]);
    const contact = reg[0]!.getHeader('contact') ?? '';
    expect(contact).toContain(`<${calleeContact}>`);
    expect(contact).toMatch(/expires=(600|599)/);
    expect(contact).toContain(`pub-gruu="${services[A]!.registrar.gruuOf(aor(A))}"`);
    expect(services[A]!.status().registrations[0]).toMatchObject({ aor: aor(A), record: 'route' });
    expect(services[A]!.status().bindings).toMatchObject([{ aor: aor(A), contact: calleeContact }]);

    callee.onRequest = (req) => {
      if (req.method === 'INVITE') {
        callee.respond(req, 180, { toTag: 'callee1' });
        // Like sipp's UAS: the dialog's Contact is not the registered one (other user part, parameters).
        callee.respond(req, 200, { toTag: 'callee1', contact: dialogContact });
      }
      if (req.method === 'BYE') callee.respond(req, 200);
    };
    const caller = ua(B, 5080);
    caller.send(
      request({
        method: 'INVITE',
        ruri: `sip:${aor(A)}`,
        from: `sip:${aor(B)}`,
        fromTag: 'caller1',
        to: `sip:${aor(A)}`,
        callId: 'call-1',
        branch: 'z9hG4bKinvite1',
        viaHost: caller.host,
        contact: 'sip:bob@127.0.0.1:5080',
        extra: ['Content-Type: application/sdp'],
        body: 'v=0\r\n',
      }),
    );
    await sim.run(3_000);
    const invite = callee.requests('INVITE')[0] as IncomingRequestMessage;
    expect(invite.ruri?.toString()).toBe(calleeContact);
    expect(invite.body).toBe('v=0\r\n');
    expect(caller.statuses('INVITE')).toEqual([100, 180, 200]);
    const ok = caller.responses('INVITE')[2] as IncomingResponseMessage;
    const routeSet = [...ok.getHeaders('record-route')].reverse();
    expect(routeSet).toHaveLength(2);

    const inDialog = (method: string, cseq: number, branch: string) =>
      request({
        method,
        ruri: dialogContact,
        from: `sip:${aor(B)}`,
        fromTag: 'caller1',
        to: `sip:${aor(A)}`,
        toTag: 'callee1',
        callId: 'call-1',
        cseq,
        branch,
        viaHost: caller.host,
        routes: routeSet,
      });
    caller.send(inDialog('ACK', 1, 'z9hG4bKack1'));
    await sim.run(1_000);
    expect(callee.requests('ACK')).toHaveLength(1);
    caller.send(inDialog('BYE', 2, 'z9hG4bKbye1'));
    await sim.run(1_000);
    expect((callee.requests('BYE')[0] as IncomingRequestMessage).ruri?.toString()).toBe(dialogContact);
    expect(caller.statuses('BYE')).toEqual([200]);

    const status = services[B]!.status();
    expect(status.resolutions.some((r) => r.target === `sip:${aor(A)}` && r.status === 'found')).toBe(true);
    expect(status.connections.open.some((c) => c.user === aor(A))).toBe(true);
  }, 60_000);

  it("a call to the pub-gruu A's registrar handed out reaches the UA registered at A", async () => {
    const gruu = services[A]!.registrar.gruuOf(aor(A));
    const callee = ua(A, 5072);
    callee.send(registerText(callee, aor(A), 'sip:alice3@127.0.0.1:5072', 600));
    await sim.run(2_000);
    expect(callee.statuses('REGISTER')).toEqual([200]);
    const invited: string[] = [];
    let invite: IncomingRequestMessage | undefined;
    callee.onRequest = (req) => {
      if (req.method === 'INVITE') {
        invite = req;
        invited.push(req.ruri?.toString() ?? '');
        callee.respond(req, 180, { toTag: 'ringing' });
      }
      if (req.method === 'CANCEL') {
        callee.respond(req, 200, { toTag: 'ringing' });
        callee.respond(invite!, 487, { toTag: 'ringing' });
      }
    };
    const caller = ua(B, 5083);
    caller.send(
      request({
        method: 'INVITE',
        ruri: gruu,
        from: `sip:${aor(B)}`,
        to: gruu,
        callId: 'call-gruu',
        branch: 'z9hG4bKinvitegruu',
        viaHost: caller.host,
        contact: 'sip:bob@127.0.0.1:5083',
      }),
    );
    await sim.run(3_000);
    // The GRUU names node A, not one UA: every UA of the AOR at A is rung. The first test's UA answers 200,
    // so this one, still ringing, is cancelled.
    expect(invited).toEqual(['sip:alice3@127.0.0.1:5072']);
    expect(caller.statuses('INVITE').at(-1)).toBe(200);
    expect(callee.requests('CANCEL')).toHaveLength(1);
    callee.send(registerText(callee, aor(A), 'sip:alice3@127.0.0.1:5072', 0, 2));
    await sim.run(2_000);
  }, 60_000);

  it('malformed REGISTERs get 400 naming the header, and bind nothing', async () => {
    const phone = ua(A, 5073);
    const before = services[A]!.status().bindings.length;
    const text = (n: number) => registerText(phone, aor(A), 'sip:x@127.0.0.1:5073', 600, n);
    phone.send(text(1).replace(/Contact: <[^>]*>/, 'Contact: <sip:x@127.0.0.1:5073>;expires=soon'));
    phone.send(text(2).replace('Expires: 600', 'Expires: 1e3'));
    await sim.run(1_000);
    const answers = phone.responses('REGISTER').map((r) => `${r.statusCode} ${r.reasonPhrase}`);
    expect(answers).toHaveLength(2);
    expect(answers[0]).toMatch(/^400 Contact: expires parameter/);
    expect(answers[1]).toMatch(/^400 .*Expires/);
    expect(services[A]!.status().bindings).toHaveLength(before);
  }, 60_000);

  it('a call to an AOR nobody registered gets 404', async () => {
    const caller = ua(B, 5081);
    caller.send(
      request({
        method: 'INVITE',
        ruri: `sip:${aor(2)}`,
        from: `sip:${aor(B)}`,
        to: `sip:${aor(2)}`,
        callId: 'call-404',
        branch: 'z9hG4bKinvite404',
        viaHost: caller.host,
        contact: 'sip:bob@127.0.0.1:5081',
      }),
    );
    await sim.run(3_000);
    expect(caller.statuses('INVITE')).toEqual([100, 404]);
  }, 60_000);

  it('a REGISTER for another user gets 403 and stores nothing', async () => {
    const phone = ua(B, 5082);
    phone.send(registerText(phone, aor(A), 'sip:mallory@127.0.0.1:5082', 600));
    await sim.run(1_000);
    expect(phone.statuses('REGISTER')).toEqual([403]);
    expect(services[B]!.status().registrations).toEqual([]);
    expect(services[B]!.status().failures.some((f) => f.reason.includes('not this peer'))).toBe(true);
  }, 60_000);

  it('Expires: 0 removes the binding and the overlay record', async () => {
    const phone = ua(A, 5071);
    phone.send(registerText(phone, aor(A), 'sip:alice2@127.0.0.1:5071', 600, 1));
    await sim.run(2_000);
    expect(services[A]!.status().bindings).toHaveLength(2);
    phone.send(registerText(phone, aor(A), 'sip:alice2@127.0.0.1:5071', 0, 2));
    await sim.run(2_000);
    expect(phone.statuses('REGISTER')).toEqual([200, 200]);
    expect(services[A]!.status().bindings.map((b) => b.contact)).toEqual(['sip:alice@127.0.0.1:5070']);
  }, 60_000);

  it('Contact: * with Expires: 0 removes every binding of the AOR and its overlay records; with other values 400', async () => {
    const phone = ua(A, 5072);
    phone.send(registerText(phone, aor(A), 'sip:alice3@127.0.0.1:5072', 600, 1));
    await sim.run(2_000);
    expect(services[A]!.status().bindings).toHaveLength(2);
    const wildcard = (expires: number, n: number, extra: string[] = []) =>
      registerText(phone, aor(A), 'sip:unused@127.0.0.1:5072', expires, n).replace(
        'Contact: <sip:unused@127.0.0.1:5072>',
        ['Contact: *', ...extra].join('\r\n'),
      );
    phone.send(wildcard(600, 2));
    phone.send(wildcard(0, 3, ['Contact: <sip:alice4@127.0.0.1:5072>']));
    await sim.run(2_000);
    expect(phone.statuses('REGISTER')).toEqual([200, 400, 400]);
    expect(phone.responses('REGISTER')[1]!.reasonPhrase).toContain('Contact: * needs Expires: 0');
    expect(services[A]!.status().bindings).toHaveLength(2);
    phone.send(wildcard(0, 4));
    await sim.run(2_000);
    expect(phone.statuses('REGISTER')).toEqual([200, 400, 400, 200]);
    expect(services[A]!.status().bindings).toEqual([]);
    expect(services[A]!.status().registrations).toEqual([]);
    const calls = ua(B, 5081);
    calls.send(
      request({
        method: 'INVITE',
        ruri: `sip:${aor(A)}`,
        from: `sip:${aor(B)}`,
        to: `sip:${aor(A)}`,
        callId: 'after-wildcard',
        branch: 'z9hG4bKafterwild',
        viaHost: calls.host,
      }),
    );
    await sim.run(5_000);
    expect(calls.statuses('INVITE').at(-1)).toBe(404);
  }, 60_000);

  it('a sips: Request-URI travels over a SIPS flow (Application-ID 5061), a sip: one over SIP (5060)', async () => {
    const callee = ua(A, 5075);
    callee.send(registerText(callee, aor(A), 'sip:alice5@127.0.0.1:5075', 600, 1));
    await sim.run(2_000);
    expect(callee.statuses('REGISTER')).toEqual([200]);
    callee.onRequest = (req) => {
      if (req.method === 'INVITE') callee.respond(req, 486, { toTag: 'busy' });
    };
    const caller = ua(B, 5082);
    const peerA = Buffer.from(sim.nodes[A]!.node.nodeId).toString('hex');
    const appIds = () =>
      services[B]!.status()
        .connections.open.filter((c) => c.peer === peerA && c.direction === 'outbound')
        .map((c) => c.applicationId)
        .sort();
    for (const [scheme, n] of [
      ['sips', 1],
      ['sip', 2],
    ] as const) {
      caller.send(
        request({
          method: 'INVITE',
          ruri: `${scheme}:${aor(A)}`,
          from: `sip:${aor(B)}`,
          to: `${scheme}:${aor(A)}`,
          callId: `scheme-${scheme}`,
          branch: `z9hG4bKscheme${scheme}`,
          viaHost: caller.host,
        }),
      );
      await sim.run(3_000);
      expect(caller.statuses('INVITE').slice(-1)).toEqual([486]);
      expect(callee.requests('INVITE')).toHaveLength(n);
    }
    expect(appIds()).toEqual([5060, 5061]);
  }, 60_000);

  it('a local SIP port in use fails start() with SipLocalPortInUseError naming the port; a free one starts', async () => {
    const server = createServer();
    const port = await new Promise<number>((resolve) =>
      server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)),
    );
    const options = {
      node: sim.nodes[1]!.node,
      overlayName: DOMAIN,
      policy: sim.policy,
      clock: sim.clock,
      log,
      now: () => wallNow(sim),
    };
    try {
      const busy = new SipService({ ...options, localPort: port });
      const error = await busy.start().then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(error).toBeInstanceOf(SipLocalPortInUseError);
      expect(error?.message).toContain(`127.0.0.1:${port}`);
    } finally {
      await new Promise((r) => server.close(r));
    }
    // One SipService per node (it answers the node's SIP AppAttaches): stop the running one first.
    await sim.until(services[1]!.stop());
    const free = new SipService({ ...options, localPort: 0 });
    await free.start();
    expect(free.localUri).toMatch(/^sip:127\.0\.0\.1:\d+$/);
    expect(free.status().local?.port).toBeGreaterThan(0);
    await sim.until(free.stop());
  }, 30_000);

  it('a phone on the real UDP interface stays reachable after the interface closed its idle UDP flow', async () => {
    // Replace A's service by one with a local interface whose UDP flows idle out after 300 ms (real time).
    await sim.until(services[A]!.stop());
    const withLocal = new SipService({
      node: sim.nodes[A]!.node,
      overlayName: DOMAIN,
      policy: sim.policy,
      clock: sim.clock,
      log,
      now: () => wallNow(sim),
      localPort: 0,
      local: { udpFlowIdleMs: 300 },
    });
    await withLocal.start();
    services[A] = withLocal;
    const port = withLocal.status().local!.port;
    const phone = createSocket('udp4');
    const received: string[] = [];
    phone.on('message', (m) => received.push(m.toString('utf8')));
    await new Promise<void>((r) => phone.bind(0, '127.0.0.1', () => r()));
    const phonePort = phone.address().port;
    const send = (text: string) => new Promise<void>((r) => phone.send(text, port, '127.0.0.1', () => r()));
    /** Runs the simulation and real time until `done` or about 5 s have passed. */
    const until = async (done: () => boolean) => {
      for (let i = 0; i < 100 && !done(); i++) {
        await sim.run(50);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    try {
      const contact = `sip:alice@127.0.0.1:${phonePort}`;
      await send(
        request({
          method: 'REGISTER',
          ruri: `sip:${DOMAIN}`,
          from: `sip:${aor(A)}`,
          to: `sip:${aor(A)}`,
          callId: 'reg-udp',
          branch: 'z9hG4bKregudp',
          viaHost: `127.0.0.1:${phonePort}`,
          contact,
          extra: ['Expires: 600'],
        }).replace('SIP/2.0/TCP', 'SIP/2.0/UDP'),
      );
      await until(() => received.some((m) => m.startsWith('SIP/2.0 200')));
      expect(received.map((m) => m.split('\r\n')[0])).toEqual(['SIP/2.0 200 OK']);
      const firstFlow = withLocal.status().bindings[0]!.flow;
      // The interface closes the idle flow; the binding moves to a new flow to the same address:port.
      await until(() => withLocal.status().bindings[0]?.flow !== firstFlow);
      expect(withLocal.status().bindings).toMatchObject([{ contact, protocol: 'UDP' }]);
      expect(withLocal.status().bindings[0]!.flow).not.toBe(firstFlow);

      const caller = ua(B, 5084);
      caller.send(
        request({
          method: 'INVITE',
          ruri: `sip:${aor(A)}`,
          from: `sip:${aor(B)}`,
          to: `sip:${aor(A)}`,
          callId: 'call-udp',
          branch: 'z9hG4bKinviteudp',
          viaHost: caller.host,
          contact: 'sip:bob@127.0.0.1:5084',
        }),
      );
      await until(() => received.some((m) => m.startsWith('INVITE ')));
      const invite = received.find((m) => m.startsWith('INVITE '));
      expect(invite?.split('\r\n')[0]).toBe(`INVITE ${contact} SIP/2.0`);
    } finally {
      phone.close();
    }
  }, 60_000);
});
