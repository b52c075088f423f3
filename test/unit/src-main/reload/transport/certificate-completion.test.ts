/**
 * Completing security blocks (RFC 6940 §6.3.4, §8): messages between linked peers leave the sender's
 * certificate out (the (D)TLS handshake showed it), and a message that reaches a node without its signer's
 * certificate is verified with one remembered or fetched from CERTIFICATE_BY_NODE — or dropped.
 */
import { describe, expect, it } from 'vitest';
import { createSigner } from '../../../../../src-main/reload/crypto';
import { OverlaySimulation } from '../../../../../src-main/reload/sim';
import { CertificateCompletion, RequestTimeoutError } from '../../../../../src-main/reload/transport';
import { toHex } from '../../../../../src-main/reload/wire';
import { makeNodes } from '../../../../support/node-identities';

const ping = { method: 'ping_req' as const, value: { padding: new Uint8Array(0) } };

describe('CertificateCompletion', () => {
  it('finds the link’s or a remembered certificate only when it hashes to the signer identity', async () => {
    const { nodes } = await makeNodes(2);
    const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
    const identity = createSigner({ privateKey: a.privateKey, certificate: a.certificate }).identity;
    const c = new CertificateCompletion({ now: () => 0 });
    expect(c.find(identity, a.nodeId)).toBeUndefined();
    expect(c.find(identity, a.nodeId, b.certificate)).toBeUndefined(); // another node's certificate
    expect(c.find(identity, a.nodeId, a.certificate)).toBe(a.certificate);
    c.remember(a.nodeId, a.certificate);
    expect(c.find(identity, a.nodeId)).toBe(a.certificate);
    expect(c.find(identity, b.nodeId)).toBeUndefined(); // remembered under A's Node-ID only
    c.forget(a.nodeId);
    expect(c.find(identity, a.nodeId)).toBeUndefined();
    expect(c.counters).toMatchObject({ fromLink: 1, fromMemory: 1 });
  });

  it('fetches once for concurrent asks, remembers hits and does not ask again soon after a miss', async () => {
    const { nodes } = await makeNodes(2);
    const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
    const identity = createSigner({ privateKey: a.privateKey, certificate: a.certificate }).identity;
    let now = 0;
    let calls = 0;
    let stored: Uint8Array[] = [b.certificate];
    const c = new CertificateCompletion({
      now: () => now,
      negativeMs: 30_000,
      fetchByNode: async () => {
        calls++;
        return stored;
      },
    });
    expect(c.canFetch).toBe(true);
    // Only B's certificate is stored there: nothing names A's identity.
    expect(await Promise.all([c.fetch(identity, a.nodeId), c.fetch(identity, a.nodeId)])).toEqual([
      undefined,
      undefined,
    ]);
    expect(calls).toBe(1);
    stored = [b.certificate, a.certificate];
    expect(await c.fetch(identity, a.nodeId)).toBeUndefined(); // still within the negative time
    expect(calls).toBe(1);
    now = 31_000;
    expect(await c.fetch(identity, a.nodeId)).toBe(a.certificate);
    expect(calls).toBe(2);
    expect(c.find(identity, a.nodeId)).toBe(a.certificate);
  });

  it('refuses more fetches than maxInFlight at once', async () => {
    const { nodes } = await makeNodes(3);
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const c = new CertificateCompletion({
      now: () => 0,
      maxInFlight: 1,
      fetchByNode: async () => {
        await gate;
        return [];
      },
    });
    const identity = createSigner({ privateKey: nodes[0]!.privateKey, certificate: nodes[0]!.certificate }).identity;
    const first = c.fetch(identity, nodes[0]!.nodeId);
    expect(await c.fetch(identity, nodes[1]!.nodeId)).toBeUndefined();
    release();
    expect(await first).toBeUndefined();
  });
});

describe('certificates left out of messages, in the overlay', () => {
  it('pings between linked peers carry no certificate; routed ones do', async () => {
    const sim = await OverlaySimulation.create({ nodes: 30, seed: 31 });
    for (let i = 0; i < 30; i++) await sim.start(i);
    await sim.run(3_000);
    const a = sim.nodes[0]!.node;
    const neighbour = a.table.neighbours.successors[0]!;
    const direct = await sim.until(a.transport.request([{ type: 'node', id: neighbour }], ping));
    expect(direct.message.security.certificates).toEqual([]);
    expect(toHex(direct.from.nodeIds[0]!)).toBe(toHex(neighbour));
    const far = sim.nodes.find((n) => !a.transport.linkTo(n.node.nodeId) && n.node !== a)!;
    const routed = await sim.until(a.transport.request([{ type: 'node', id: far.node.nodeId }], ping));
    expect(routed.message.security.certificates.length).toBeGreaterThan(0);
  });

  it('a bare request over several hops is verified with the certificate fetched from CERTIFICATE_BY_NODE', async () => {
    const sim = await OverlaySimulation.create({ nodes: 12, seed: 32 });
    for (let i = 0; i < 12; i++) await sim.start(i);
    await sim.run(5_000); // certificates published
    const a = sim.nodes[0]!;
    const z = sim.nodes.find((n) => !a.node.transport.linkTo(n.node.nodeId) && n !== a)!;
    const completion = z.node.transport.certificateCompletion!;
    completion.forget(a.node.nodeId);
    const before = completion.counters.fetched;
    const answer = await sim.until(
      a.node.transport.request([{ type: 'node', id: z.node.nodeId }], ping, { omitOwnCertificate: true }),
    );
    expect(answer.body.method).toBe('ping_ans');
    expect(completion.counters.fetched).toBe(before + 1);
  });

  it('certificatePublication tells when our certificate is in the overlay, and when the Kinds are not configured', async () => {
    const sim = await OverlaySimulation.create({ nodes: 6, seed: 34 });
    expect(sim.nodes[0]!.node.certificatePublication).toBeUndefined();
    for (let i = 0; i < 6; i++) await sim.start(i);
    const outcomes = await sim.until(Promise.all(sim.nodes.map((n) => n.node.certificatePublication!)));
    expect(outcomes).toEqual(Array(6).fill('published'));
    const off = await OverlaySimulation.create({ nodes: 2, seed: 35, publishCertificates: false });
    for (let i = 0; i < 2; i++) await off.start(i);
    expect(await off.until(off.nodes[1]!.node.certificatePublication!)).toBe('not-configured');
  });

  it('without a published certificate the bare request is dropped at the destination', async () => {
    const sim = await OverlaySimulation.create({ nodes: 12, seed: 33, publishCertificates: false });
    for (let i = 0; i < 12; i++) await sim.start(i);
    await sim.run(3_000);
    const a = sim.nodes[0]!;
    const z = sim.nodes.find((n) => !a.node.transport.linkTo(n.node.nodeId) && n !== a)!;
    z.node.transport.certificateCompletion!.forget(a.node.nodeId);
    const failure = await sim
      .until(a.node.transport.request([{ type: 'node', id: z.node.nodeId }], ping, { omitOwnCertificate: true }))
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(RequestTimeoutError);
    expect(z.node.transport.counters.dropped['signature']).toBeGreaterThan(0);
  });
});
