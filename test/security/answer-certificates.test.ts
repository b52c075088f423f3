/**
 * Certificates in answers (RFC 6940 §6.3.4; reload-wire digest §10.4). The rule (message-transport.ts,
 * BARE_METHODS): a message leaves its signer's certificate out only when its destination is the peer at the
 * other end of the link it leaves on, which saw the certificate in the (D)TLS handshake. Every answer that
 * goes back over more than one hop carries it, so the requester verifies it from the message alone — no
 * CERTIFICATE_BY_NODE fetch, nothing remembered — and an answer to a retransmission that came another way is
 * certified for that way, not resent bare as first cached.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src-main/reload/clock';
import { createSigner, resourceIdFor, signMessage } from '../../src-main/reload/crypto';
import { generateIdentityKeys, issueCertificate, createCertificateAuthority } from '../../src-main/reload/identity';
import { MemoryNetwork } from '../../src-main/reload/link/memory/memory-network';
import type { Link } from '../../src-main/reload/link/link';
import { OverlaySimulation, type SimNode } from '../../src-main/reload/sim';
import {
  answerPing,
  CertificateCompletion,
  StaticTopology,
  type Answer,
  type MessageTransport,
} from '../../src-main/reload/transport';
import {
  bytesEqual,
  decodeContext,
  decodeMessage,
  MessageCode,
  toHex,
  type Body,
  type HeaderInput,
} from '../../src-main/reload/wire';
import { memoryLogger } from '../support/fixtures';
import { makeNodes, TEST_OVERLAY, type TestNodes } from '../support/node-identities';
import { advance, settle, testTransport } from '../support/test-transport';

const KIND_CERTIFICATE_BY_NODE = 3;
const ping: Body = { method: 'ping_req', value: { padding: new Uint8Array(0) } };
const carries = (answer: Answer, der: Uint8Array) =>
  answer.message.security.certificates.some((c) => bytesEqual(c.certificate, der));

describe('answers routed back over several hops (simulated overlay)', () => {
  let sim: OverlaySimulation;
  beforeAll(async () => {
    sim = await OverlaySimulation.create({ nodes: 14, seed: 1405 });
    for (let i = 0; i < 14; i++) await sim.start(i);
    await sim.run(5_000); // certificates published
  }, 120_000);

  /** A requester, and a target whose answer must come back over at least two hops. */
  function farApart(): { a: SimNode; far: SimNode } {
    const a = sim.nodes[0] as SimNode;
    const far = sim.nodes.find((n) => n !== a && !a.node.transport.linkTo(n.node.nodeId)) as SimNode;
    // The requester knows nothing of the far node's certificate beforehand.
    a.node.transport.certificateCompletion!.forget(far.node.nodeId);
    return { a, far };
  }

  it('a Fetch answer carries its signer’s certificate and is verified without any certificate fetch', async () => {
    const a = sim.nodes[0] as SimNode;
    // A CERTIFICATE_BY_NODE resource whose responsible peer is not linked to the requester.
    const owner = sim.nodes.find((n) => {
      const holder = sim.responsibleFor(resourceIdFor(n.node.nodeId, 16));
      return holder && holder.node !== a.node && !a.node.transport.linkTo(holder.node.nodeId);
    }) as SimNode;
    const rid = resourceIdFor(owner.node.nodeId, 16);
    const holder = sim.responsibleFor(rid) as SimNode;
    const completion = a.node.transport.certificateCompletion!;
    completion.forget(holder.node.nodeId);
    completion.forget(owner.node.nodeId);
    const before = { ...completion.counters };
    const answer = await sim.until(
      a.node.transport.request([{ type: 'resource', id: rid }], {
        method: 'fetch_req',
        value: {
          resource: rid,
          specifiers: [
            {
              kind: KIND_CERTIFICATE_BY_NODE,
              generation: 0n,
              specifier: { model: 'array', indices: [{ first: 0, last: 0xffffffff }] },
            },
          ],
        },
      }),
    );
    expect(answer.body.method).toBe('fetch_ans');
    expect(answer.message.header.viaList.length).toBeGreaterThanOrEqual(1); // two hops or more
    expect(toHex(answer.from.nodeIds[0]!)).toBe(toHex(holder.node.nodeId));
    expect(carries(answer, holder.node.certificate)).toBe(true); // the answer's signer
    expect(carries(answer, owner.node.certificate)).toBe(true); // the stored value's signer
    expect(completion.counters).toEqual(before); // nothing from a link, memory or the overlay
  });

  it('a Ping answer over several hops carries the certificate; one between neighbours does not', async () => {
    const { a, far } = farApart();
    const completion = a.node.transport.certificateCompletion!;
    const before = { ...completion.counters };
    const routed = await sim.until(a.node.transport.request([{ type: 'node', id: far.node.nodeId }], ping));
    expect(routed.message.header.viaList.length).toBeGreaterThanOrEqual(1);
    expect(carries(routed, far.node.certificate)).toBe(true);
    expect(completion.counters).toEqual(before);
    const neighbour = a.node.table.neighbours.successors[0]!;
    const direct = await sim.until(a.node.transport.request([{ type: 'node', id: neighbour }], ping));
    expect(direct.message.header.viaList).toEqual([]);
    expect(direct.message.security.certificates).toEqual([]);
  });
});

describe('an answer resent to a retransmission that came another way', () => {
  let ids: TestNodes;
  beforeAll(async () => {
    ids = await makeNodes(3);
  });

  it('is addressed and certified for the new path, not resent bare as first cached', async () => {
    // A, B, C all linked. A's first Ping goes straight to B; B answers only after the A–B link has closed,
    // so the answer is lost; A's retransmission goes A → C → B and B's cached answer must reach A via C.
    const clock = new VirtualClock();
    const net = new MemoryNetwork(clock, { latencyMs: 5, jitterMs: 0, loss: 0, bandwidth: 0 }, 3, 5000);
    const [a, b, c] = ids.nodes as [(typeof ids.nodes)[0], (typeof ids.nodes)[0], (typeof ids.nodes)[0]];
    const transports = [a, b, c].map((n, i) =>
      testTransport(n, ids.policy, {
        overlay: 0x1234,
        reliabilityTimerMs: 1000,
        // Certificates may be left out between neighbours; none can be fetched here.
        certificates: new CertificateCompletion({ now: () => clock.now() }),
        // Everyone reaches the others directly, else through C (A's way to B once their link is gone).
        topology: new StaticTopology(
          (id) => bytesEqual(id, n.nodeId),
          (id) => (i === 2 ? id : c.nodeId),
        ),
        clock,
        log: memoryLogger().log,
      }),
    ) as [MessageTransport, MessageTransport, MessageTransport];
    const [ta, tb, tc] = transports;
    ta.handle(() => answerPing());
    tc.handle(() => answerPing());
    let served = 0;
    tb.handle(async () => {
      served++;
      await new Promise<void>((resolve) => clock.setTimeout(resolve, 500));
      return answerPing();
    });
    const endpoints = [a, b, c].map((n, i) => net.endpoint(`n${i}`, n.identity));
    endpoints.forEach((e, i) => e.onLink((l: Link) => transports[i]!.addLink(l)));
    let ab: Link | undefined;
    void endpoints[0]!.connect('n1').then((l) => {
      ab = l;
      ta.addLink(l);
    });
    void endpoints[0]!.connect('n2').then((l) => ta.addLink(l));
    void endpoints[2]!.connect('n1').then((l) => tc.addLink(l));
    await settle(clock, new Promise((resolve) => setImmediate(resolve)), 50);
    expect(ta.linkTo(b.nodeId)).toBeDefined();
    const pending = ta.request([{ type: 'node', id: b.nodeId }], ping);
    await settle(clock, new Promise((resolve) => clock.setTimeout(() => resolve(undefined), 100)), 100);
    expect(served).toBe(1);
    await ab!.close(); // B's answer (at 500 ms) is lost with the link
    const answer = await settle(clock, pending, 20_000);
    expect(served).toBe(1); // the retransmission was answered from the cache
    expect(answer.message.header.viaList.map((v) => (v.type === 'node' ? toHex(v.id) : '?'))).toEqual([
      toHex(b.nodeId),
    ]);
    expect(carries(answer, b.certificate)).toBe(true);
  });
});

describe('an answer to a request forwarded without via entries', () => {
  it('carries the certificate: the link’s peer is not the requester', async () => {
    // A forwarder may keep per-transaction state instead of adding itself to the via list (§6.1.2): the
    // request then arrives with an empty via list from a peer (X) that did not sign it (Y). Y never saw B's
    // certificate, so B's answer must carry it.
    const ids = await makeNodes(3);
    const [y, b, x] = ids.nodes as [(typeof ids.nodes)[0], (typeof ids.nodes)[0], (typeof ids.nodes)[0]];
    const clock = new VirtualClock();
    const net = new MemoryNetwork(clock, { latencyMs: 5, jitterMs: 0, loss: 0, bandwidth: 0 }, 5, 5000);
    const tb = testTransport(b, ids.policy, {
      overlay: 0x1234,
      reliabilityTimerMs: 1000,
      certificates: new CertificateCompletion({ now: () => clock.now() }),
      topology: new StaticTopology(
        (id) => bytesEqual(id, b.nodeId),
        () => undefined,
      ),
      clock,
      log: memoryLogger().log,
    });
    tb.handle(() => answerPing());
    net.endpoint('b', b.identity).onLink((l: Link) => tb.addLink(l));
    const connecting = net.endpoint('x', x.identity).connect('b');
    await advance(clock, 100);
    const link = await connecting;
    const received: Uint8Array[] = [];
    link.onMessage((bytes) => received.push(bytes));
    const header: HeaderInput = {
      overlay: 0x1234,
      configurationSequence: 1,
      version: 0x0a,
      ttl: 99,
      transactionId: 77n,
      maxResponseLength: 0,
      viaList: [],
      destinationList: [{ type: 'node', id: b.nodeId }],
      options: [],
    };
    const request = signMessage(
      header,
      { body: ping, extensions: [] },
      createSigner({ privateKey: y.privateKey, certificate: y.certificate }),
      { nodeIdLength: 16 },
    );
    await link.send(request);
    await advance(clock, 200, () => received.length > 0);
    expect(received).toHaveLength(1);
    const answer = decodeMessage(received[0]!, decodeContext({ maxMessageSize: 5000, nodeIdLength: 16 }));
    expect(answer.contents.code).toBe(MessageCode.ping_ans);
    expect(answer.security.certificates.map((c) => toHex(c.certificate))).toEqual([toHex(b.certificate)]);
  });
});

describe('the size cost of carrying the signer certificate', () => {
  it.each(['ecdsa', 'rsa'] as const)('%s: a certificate adds its DER length plus 3 bytes', async (algorithm) => {
    const keys = await generateIdentityKeys(algorithm);
    const ca = await createCertificateAuthority(await generateIdentityKeys(algorithm), TEST_OVERLAY, 30);
    const nodeId = new Uint8Array(16).fill(7);
    const { der } = await issueCertificate({
      ca,
      publicKey: keys.webcrypto.publicKey,
      userName: `size@${TEST_OVERLAY}`,
      nodeIds: [nodeId],
      overlay: TEST_OVERLAY,
      validDays: 5,
    });
    const real = createSigner({ privateKey: keys.privateKey, certificate: der });
    // One signature for both encodings: ECDSA signatures vary by a byte or two in length.
    const signature = real.sign(new Uint8Array(1));
    const signer = { ...real, sign: () => signature };
    const header: HeaderInput = {
      overlay: 0x1234,
      configurationSequence: 1,
      version: 0x0a,
      ttl: 100,
      transactionId: 1n,
      maxResponseLength: 0,
      viaList: [],
      destinationList: [{ type: 'node', id: nodeId }],
      options: [],
    };
    const body: Body = { method: 'ping_ans', value: { responseId: 1n, time: 0n } };
    const full = signMessage(header, { body, extensions: [] }, signer, { nodeIdLength: 16 });
    const bare = signMessage(header, { body, extensions: [] }, { ...signer, certificates: [] }, { nodeIdLength: 16 });
    // GenericCertificate: type (1 byte) and a 2-byte length before the DER.
    expect(full.length - bare.length).toBe(der.length + 3);
  });
});
