/**
 * SipConnections in the overlay simulation (ReloadNodes, AppAttach over memory flows, one virtual clock):
 * connect, reuse without a new AppAttach, concurrent connects sharing one, inbound connections handed out
 * and reused for the way back, idle close, the connection cap, failed connects reported and held back, and
 * stop(). Also: SIP bytes put on an overlay (Attach) link are dropped by the RELOAD framing, never SIP.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { OverlaySimulation, type SimNode } from '../../../../../src-main/reload/sim';
import { AppAttachNotSupportedError } from '../../../../../src-main/reload/transport';
import { toHex, type Destination } from '../../../../../src-main/reload/wire';
import {
  SipConnectBackoffError,
  SipConnectionArgumentError,
  SipConnectionClosedError,
  SipConnectionLimitError,
  SipConnectionsStoppedError,
} from '../../../../../src-main/sip/connections/errors';
import {
  SipConnections,
  type SipConnectionsOptions,
  type SipTransportEvent,
} from '../../../../../src-main/sip/connections/sip-connections';

const OPTIONS =
  'OPTIONS sip:bob@sim.example.org SIP/2.0\r\nVia: SIP/2.0/DTLS a.invalid;branch=z9hG4bK1\r\nCSeq: 1 OPTIONS\r\n' +
  'Content-Length: 0\r\n\r\n';
const OK =
  'SIP/2.0 200 OK\r\nVia: SIP/2.0/DTLS a.invalid;branch=z9hG4bK1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n';

const to = (n: SimNode): Destination[] => [{ type: 'node', id: n.node.nodeId }];

describe('SipConnections (overlay simulation)', () => {
  let sim: OverlaySimulation;
  let made: SipConnections[] = [];

  beforeAll(async () => {
    sim = await OverlaySimulation.create({ nodes: 6, seed: 7 });
    for (let i = 0; i < 6; i++) await sim.start(i);
    await sim.run(2_000);
    expect(sim.ringErrors()).toEqual([]);
  }, 120_000);

  afterEach(async () => {
    for (const c of made) c.stop();
    made = [];
    await sim.run(100);
  });

  /** SipConnections for node `i`, started, with every transport event it gives. */
  function sip(i: number, options: Partial<SipConnectionsOptions> = {}) {
    const connections = new SipConnections({ node: sim.nodes[i]!.node, clock: sim.clock, ...options });
    const events: SipTransportEvent[] = [];
    connections.onTransport((e) => events.push(e));
    connections.start();
    made.push(connections);
    return { connections, events, node: sim.nodes[i]! };
  }

  it('connects, carries an OPTIONS and its 200, and reuses the connection both ways without a new AppAttach', async () => {
    const a = sip(0);
    const b = sip(3);
    const transport = await sim.until(a.connections.connect(to(b.node), { sips: false }));
    expect(transport.applicationId).toBe(5060);
    expect(transport.protocol).toBe('DTLS'); // memory flows are datagrams
    expect(transport.party).toEqual({ kind: 'overlay', nodeId: b.node.node.nodeId, user: 'sim3@sim.example.org' });
    expect(a.events.map((e) => e.direction)).toEqual(['outbound']);
    await sim.run(50);
    expect(b.events.map((e) => e.direction)).toEqual(['inbound']);
    const inbound = b.events[0]!.transport;
    expect(inbound.party).toMatchObject({ kind: 'overlay', user: 'sim0@sim.example.org' });

    const atB: string[] = [];
    const atA: string[] = [];
    inbound.onMessage((m) => atB.push(m));
    transport.onMessage((m) => atA.push(m));
    await transport.send(OPTIONS);
    await sim.run(50);
    expect(atB).toEqual([OPTIONS]);
    // B's way back to A is the inbound connection: no AppAttach from B.
    const back = await sim.until(b.connections.connect(to(a.node), { sips: false }));
    expect(back).toBe(inbound);
    await back.send(OK);
    await sim.run(50);
    expect(atA).toEqual([OK]);

    const again = await a.connections.connect(to(b.node), { sips: false });
    expect(again).toBe(transport);
    await sim.run(50);
    expect(b.events).toHaveLength(1); // no second AppAttach arrived
    expect(a.events).toHaveLength(1);
    const status = a.connections.status();
    expect(status.open).toHaveLength(1);
    expect(status.open[0]).toMatchObject({
      peer: toHex(b.node.node.nodeId),
      applicationId: 5060,
      direction: 'outbound',
      messagesOut: 1,
      messagesIn: 1,
    });
    expect(status.open[0]!.bytesOut).toBe(OPTIONS.length);
    // SIPS is another application: its own connection.
    const sips = await sim.until(a.connections.connect(to(b.node), { sips: true }));
    expect(sips).not.toBe(transport);
    expect(sips.applicationId).toBe(5061);
  }, 60_000);

  it('lets concurrent connects to one peer share one AppAttach', async () => {
    const a = sip(1);
    const b = sip(4);
    const all = Promise.all([1, 2, 3, 4, 5].map(() => a.connections.connect(to(b.node), { sips: false })));
    expect(a.connections.status().connecting).toHaveLength(1);
    const transports = await sim.until(all);
    expect(new Set(transports).size).toBe(1);
    await sim.run(50);
    expect(b.events).toHaveLength(1);
  }, 60_000);

  it('closes a connection after idleTimeoutMs without a SIP message; the next connect makes a new one', async () => {
    const a = sip(2, { idleTimeoutMs: 10_000 });
    const b = sip(5, { idleTimeoutMs: 60_000 });
    const transport = await sim.until(a.connections.connect(to(b.node), { sips: false }));
    await sim.run(6_000);
    await transport.send(OPTIONS);
    await sim.run(6_000);
    expect(transport.closed).toBe(false); // the message reset the idle time
    const reasons: string[] = [];
    transport.onClose((r) => reasons.push(r));
    await sim.run(6_000);
    expect(reasons).toEqual(['idle for 10000 ms']);
    expect(a.connections.status().open).toEqual([]);
    await sim.run(100);
    expect(b.events[0]!.transport.closed).toBe(true); // closing reaches the other side
    const fresh = await sim.until(a.connections.connect(to(b.node), { sips: false }));
    expect(fresh).not.toBe(transport);
    expect(fresh.closed).toBe(false);
  }, 60_000);

  it('reports a failed connect with its reason and does not retry it before the backoff ends', async () => {
    const a = sip(0, { backoffMs: 5_000 });
    sip(3, { serve: [5060] }); // no SIPS here: AppAttach answered Error_Not_Found
    const target = to(sim.nodes[3]!);
    await expect(sim.until(a.connections.connect(target, { sips: true }))).rejects.toBeInstanceOf(
      AppAttachNotSupportedError,
    );
    const failures = a.connections.status().failures;
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ applicationId: 5061, error: 'AppAttachNotSupportedError' });
    expect(failures[0]!.reason).toMatch(/5061/);
    const held = await a.connections.connect(target, { sips: true }).catch((e: unknown) => e);
    expect(held).toBeInstanceOf(SipConnectBackoffError);
    expect(a.connections.status().failures).toHaveLength(1); // no second AppAttach
    await sim.run(5_000);
    await expect(sim.until(a.connections.connect(target, { sips: true }))).rejects.toBeInstanceOf(
      AppAttachNotSupportedError,
    );
    // The backoff doubled: 5 s later it still holds.
    await sim.run(5_000);
    await expect(a.connections.connect(target, { sips: true })).rejects.toBeInstanceOf(SipConnectBackoffError);
  }, 60_000);

  it('caps the number of connections, and closes inbound ones over the cap', async () => {
    const a = sip(1, { maxConnections: 1 });
    sip(2);
    sip(4);
    await sim.until(a.connections.connect(to(sim.nodes[2]!), { sips: false }));
    await expect(a.connections.connect(to(sim.nodes[4]!), { sips: false })).rejects.toBeInstanceOf(
      SipConnectionLimitError,
    );
    const c = made[2]!;
    const inbound = await sim.until(c.connect(to(sim.nodes[1]!), { sips: false }));
    await sim.run(200);
    // The refused flow is gone: A closed it (on the memory network that close can reach the requester before
    // its AppAttach answer does, and then the flow learns of it only when it sends).
    await expect(inbound.send(OPTIONS)).rejects.toBeInstanceOf(SipConnectionClosedError);
    expect(inbound.closed).toBe(true);
    expect(a.connections.status().failures.map((f) => f.error)).toEqual(['SipConnectionLimitError']);
    expect(a.connections.status().open).toHaveLength(1);
  }, 60_000);

  it('closes every connection on stop() and refuses connects afterwards', async () => {
    const a = sip(5);
    const b = sip(0);
    const transport = await sim.until(a.connections.connect(to(b.node), { sips: false }));
    a.connections.stop();
    expect(transport.closed).toBe(true);
    await expect(a.connections.connect(to(b.node), { sips: false })).rejects.toBeInstanceOf(SipConnectionsStoppedError);
    await sim.run(100);
    expect(b.events[0]!.transport.closed).toBe(true);
  }, 60_000);

  it('refuses bad destination lists with a typed error naming the field', async () => {
    const a = sip(0);
    const bad = async (destinations: unknown, options: unknown = { sips: false }) =>
      a.connections.connect(destinations as Destination[], options as { sips: boolean }).catch((e: unknown) => e);
    for (const [input, field] of [
      [[], 'destinations'],
      [[{ type: 'node', id: new Uint8Array(3) }], 'destinations[0]'],
      [[{ type: 'opaque', id: new Uint8Array(3) }], 'destinations[0]'],
      [[{ type: 'resource', id: new Uint8Array(16) }], 'destinations'], // must end with a Node-ID
      [Array(17).fill({ type: 'node', id: new Uint8Array(16) }), 'destinations'],
    ] as const) {
      const error = await bad(input);
      expect(error).toBeInstanceOf(SipConnectionArgumentError);
      expect((error as SipConnectionArgumentError).field).toBe(field);
    }
    expect(await bad(to(sim.nodes[1]!), {})).toMatchObject({ field: 'sips' });
  });

  it('never takes SIP from an overlay (Attach) link: SIP bytes there are dropped as malformed RELOAD', async () => {
    const a = sip(0);
    const b = sip(1);
    const peer = sim.nodes.find((n) => n !== a.node && a.node.node.transport.linkTo(n.node.nodeId))!;
    const link = a.node.node.transport.linkTo(peer.node.nodeId)!;
    const before = peer.node.transport.counters.dropped.malformed ?? 0;
    await link.send(new TextEncoder().encode(OPTIONS));
    await sim.run(100);
    expect(peer.node.transport.counters.dropped.malformed ?? 0).toBe(before + 1);
    expect(b.events).toEqual([]);
    expect(made.flatMap((c) => c.status().open)).toEqual([]);
    expect(link.closed).toBe(false); // a stray message does not cost the link
  });
});
