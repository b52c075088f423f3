/**
 * ConfigUpdate in a simulated overlay (RFC 6940 §6.3.2.1): peers hold configuration sequence 1; one gets
 * sequence 2. A stale requester is answered Error_Config_Too_Old and sent the new document, a stale
 * destination answers Error_Config_Too_New and is sent it too; each applies it and the next request goes
 * through. In the end every peer holds sequence 2 and the ring is intact.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { signedConfigurationDocument } from '../../../../../src-main/reload/config';
import type { ConfigurationChange, ConfigurationStale } from '../../../../../src-main/reload/node';
import { OverlaySimulation, type SimNode } from '../../../../../src-main/reload/sim';
import { ErrorResponseError } from '../../../../../src-main/reload/transport';
import { ErrorCode, toHex, type Body } from '../../../../../src-main/reload/wire';
import { makeOverlay, OVERLAY, type TestOverlay } from '../../../../support/overlay-fixture';

let o: TestOverlay;
beforeAll(async () => {
  o = await makeOverlay();
});

const ping: Body = { method: 'ping_req', value: { padding: new Uint8Array(0) } };

async function pingFrom(sim: OverlaySimulation, from: SimNode, to: SimNode, configurationSequence?: number) {
  return sim.until(
    from.node.transport.request(
      [{ type: 'node', id: to.node.nodeId }],
      ping,
      configurationSequence === undefined ? {} : { configurationSequence },
    ),
  );
}

async function errorOf(promise: Promise<unknown>): Promise<number> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ErrorResponseError);
  return (error as ErrorResponseError).errorCode;
}

describe('ConfigUpdate in a simulated overlay', () => {
  it('stale requesters and stale destinations are sent the newer configuration and apply it', async () => {
    const [sip, ...otherKinds] = o.input.kinds;
    const doc1 = signedConfigurationDocument({ ...o.input, sequence: 1 }, o.signer, o.signer);
    const doc2 = signedConfigurationDocument(
      { ...o.input, sequence: 2, kinds: [{ ...sip!, maxCount: 20 }, ...otherKinds] },
      o.signer,
      o.signer,
    );
    const sim = await OverlaySimulation.create({ nodes: 0, seed: 7, overlayName: OVERLAY });
    // The signed document (certificates in every kind-signature) is larger than the 5000-byte default.
    for (let i = 0; i < 4; i++) await sim.addNode({ configuration: { document: doc1 }, maxMessageSize: 64_000 });
    for (let i = 0; i < 4; i++) await sim.start(i);
    await sim.run(2_000);
    expect(sim.ringErrors()).toEqual([]);
    const [a, b, c, d] = sim.nodes as [SimNode, SimNode, SimNode, SimNode];
    const changes = new Map<number, ConfigurationChange[]>();
    const stale = new Map<number, ConfigurationStale[]>();
    for (const n of sim.nodes) {
      changes.set(n.index, []);
      stale.set(n.index, []);
      n.node.onConfigurationChanged((change) => changes.get(n.index)!.push(change));
      n.node.onConfigurationStale((event) => stale.get(n.index)!.push(event));
    }
    expect(sim.nodes.map((n) => n.node.transport.configSequence)).toEqual([1, 1, 1, 1]);

    // Peer a gets sequence 2 from its host (as after a refetch).
    expect(a.node.configuration.install(doc2)?.configuration.sequence).toBe(2);
    expect(a.node.transport.configSequence).toBe(2);

    // A stale requester: d is answered Error_Config_Too_Old and sent the document, which leaves first: d holds
    // sequence 2 by the time the error answer arrives, so it never reports itself stale.
    expect(await errorOf(pingFrom(sim, d, a))).toBe(ErrorCode.Config_Too_Old);
    await sim.run(1_000);
    expect(stale.get(d.index)).toEqual([]);
    expect(d.node.transport.configSequence).toBe(2);
    expect(changes.get(d.index)).toMatchObject([
      { cause: 'config', from: toHex(a.node.nodeId), previousSequence: 1, document: doc2, kindsChanged: [1] },
    ]);
    expect(d.node.storage.service.kind(1)?.maxCount).toBe(20);
    expect(d.node.configuration.document).toBe(doc2);
    await pingFrom(sim, d, a); // now it goes through

    // A stale destination: b answers Error_Config_Too_New; a sends it the document.
    expect(b.node.transport.configSequence).toBe(1);
    expect(await errorOf(pingFrom(sim, a, b))).toBe(ErrorCode.Config_Too_New);
    await sim.run(1_000);
    expect(b.node.transport.configSequence).toBe(2);
    expect(changes.get(b.index)).toMatchObject([{ cause: 'config', from: toHex(a.node.nodeId) }]);
    await pingFrom(sim, a, b);
    expect(a.node.configuration.counters.pushes).toBe(2);

    // 0xffff is accepted only on a ConfigUpdate: on a Ping it is an error like any other sequence.
    expect(c.node.transport.configSequence).toBe(1);
    const code = await errorOf(pingFrom(sim, c, b, 0xffff));
    expect([ErrorCode.Config_Too_Old, ErrorCode.Config_Too_New]).toContain(code);

    // The rest follows from ordinary traffic (Chord's Updates and Pings meet the new sequence).
    await sim.run(150_000, 20);
    expect(sim.nodes.map((n) => n.node.transport.configSequence)).toEqual([2, 2, 2, 2]);
    expect(sim.ringErrors()).toEqual([]);
    await pingFrom(sim, c, d);
    // Each node was sent the document once a minute at most.
    for (const n of sim.nodes) expect(n.node.configuration.counters.pushesFailed).toBe(0);
  }, 60_000);
});
