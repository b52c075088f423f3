/**
 * DTLS-UDP-SR links over ICE on loopback: an Attach requester (controlling, DTLS server) and answerer
 * (controlled, DTLS client) exchange their ICE parameters in-process, as the AttachReqAns would carry them,
 * and must pass the Link compliance suite; plus Node-ID checks, a silent peer, and plain STUN.
 */
import { createSocket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classes, Message, methods, parseMessage } from 'werift-ice';
import { PeerRejectedError, type Link } from '../../src-main/reload/link/link';
import { IceAgent, IceFailedError, type IceParameters } from '../../src-main/reload/link/ice/ice-agent';
import { connectOverIce } from '../../src-main/reload/link/ice/ice-dtls';
import { makeNodes, type TestNode, type TestNodes } from '../support/node-identities';
import { describeLinkCompliance } from './link-compliance';

let ids: TestNodes;
beforeAll(async () => {
  ids = await makeNodes(3);
});

const LOOPBACK = '127.0.0.1';
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Only the loopback candidates, so that the test depends on no other interface. */
function loopbackOnly(p: IceParameters): IceParameters {
  return {
    ...p,
    candidates: p.candidates.filter((c) => c.addrPort.family === 4 && c.addrPort.address.join('.') === LOOPBACK),
  };
}

const timings: { gather: number; ice: number; dtls: number }[] = [];

async function attach(expectedByRequester?: Uint8Array) {
  const [rn, an] = ids.nodes as [TestNode, TestNode];
  const t0 = performance.now();
  const [requester, answerer] = await Promise.all([
    IceAgent.create({ controlling: true, hostAddresses: [LOOPBACK] }),
    IceAgent.create({ controlling: false, hostAddresses: [LOOPBACK] }),
  ]);
  const t1 = performance.now();
  // The Attach request carries the requester's parameters, the answer the answerer's.
  const request = loopbackOnly(requester.localParameters());
  const answer = loopbackOnly(answerer.localParameters());
  await Promise.all([requester.connect(answer, 5000), answerer.connect(request, 5000)]);
  const t2 = performance.now();
  const common = { policy: ids.policy, maxMessageSize: 5000, handshakeTimeoutMs: 5000 };
  const [a, b] = await Promise.allSettled([
    connectOverIce({
      ...common,
      agent: requester,
      attachRole: 'requester',
      privateKey: rn.privateKey,
      certificates: [rn.certificate],
      expectedNodeId: expectedByRequester ?? an.nodeId,
    }),
    connectOverIce({
      ...common,
      agent: answerer,
      attachRole: 'answerer',
      privateKey: an.privateKey,
      certificates: [an.certificate],
      expectedNodeId: rn.nodeId,
    }),
  ]);
  const t3 = performance.now();
  timings.push({ gather: t1 - t0, ice: t2 - t1, dtls: t3 - t2 });
  return { a, b, requester, answerer, rn, an };
}

afterAll(() => {
  const fmt = (k: 'gather' | 'ice' | 'dtls') => timings.map((t) => t[k].toFixed(0)).join('/');
  console.log(
    `ICE+DTLS setup ms over ${timings.length} runs: gather ${fmt('gather')}; ICE ${fmt('ice')}; DTLS ${fmt('dtls')}`,
  );
});

describeLinkCompliance('DTLS-UDP-SR (ICE)', async () => {
  const { a, b, requester, answerer, rn, an } = await attach();
  if (a.status === 'rejected') throw a.reason;
  if (b.status === 'rejected') throw b.reason;
  return {
    a: a.value,
    b: b.value,
    aNodeId: rn.nodeId,
    bNodeId: an.nodeId,
    tick: () => sleep(5),
    teardown: async () => {
      await a.value.close();
      await b.value.close();
      await requester.close();
      await answerer.close();
    },
  };
});

describe('DTLS-UDP-SR over ICE', () => {
  it('is a DTLS-UDP-SR link, the requester being the DTLS server', async () => {
    const { a, b, requester, answerer } = await attach();
    const links = [a, b].map((r) => (r.status === 'fulfilled' ? r.value : undefined)) as [Link, Link];
    expect(links.map((l) => l?.type)).toEqual(['DTLS-UDP-SR', 'DTLS-UDP-SR']);
    expect(requester.remoteAddress?.host).toBe(LOOPBACK);
    await Promise.all(links.map((l) => l.close()));
    await requester.close();
    await answerer.close();
  });

  it('refuses a peer whose certificate does not carry the expected Node-ID', async () => {
    const { a, b, requester, answerer } = await attach(ids.nodes[2]!.nodeId);
    expect(a.status).toBe('rejected');
    expect((a as PromiseRejectedResult).reason).toBeInstanceOf(PeerRejectedError);
    expect(String((a as PromiseRejectedResult).reason)).toMatch(/does not carry the Node-ID/);
    if (b.status === 'fulfilled') await b.value.close();
    await requester.close();
    await answerer.close();
  });

  it('fails with IceFailedError within the timeout when the peer never answers', async () => {
    const requester = await IceAgent.create({ controlling: true, hostAddresses: [LOOPBACK] });
    const silent = await IceAgent.create({ controlling: false, hostAddresses: [LOOPBACK] });
    const answer = loopbackOnly(silent.localParameters());
    await silent.close(); // never starts: its sockets are gone
    const t0 = performance.now();
    await expect(requester.connect(answer, 1500)).rejects.toBeInstanceOf(IceFailedError);
    const elapsed = performance.now() - t0;
    expect(elapsed).toBeLessThan(3000);
    expect(requester.remoteAddress).toBeUndefined();
    await requester.close();
  });

  it('answers a plain STUN Binding request (no USERNAME) with XOR-MAPPED-ADDRESS', async () => {
    const agent = await IceAgent.create({ controlling: false, hostAddresses: [LOOPBACK] });
    const target = agent.localAddresses.find((x) => x.host === LOOPBACK);
    expect(target).toBeDefined();
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, LOOPBACK, resolve));
    try {
      const response = new Promise<Buffer>((resolve) => socket.once('message', resolve));
      const request = new Message(methods.BINDING, classes.REQUEST);
      socket.send(request.bytes, target!.port, LOOPBACK);
      const parsed = parseMessage(await response);
      expect(parsed?.messageClass).toBe(classes.RESPONSE);
      expect(parsed?.messageMethod).toBe(methods.BINDING);
      expect(parsed?.transactionIdHex).toBe(request.transactionIdHex);
      expect(parsed?.getAttributeValue('XOR-MAPPED-ADDRESS')).toEqual([LOOPBACK, socket.address().port]);
    } finally {
      socket.close();
      await agent.close();
    }
  });
});
