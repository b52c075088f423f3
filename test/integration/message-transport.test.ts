/**
 * Message transport over in-memory links on a virtual clock: four nodes in a line A–B–C–D with a static
 * routing table. Symmetric recursive routing, TTL, signatures, retransmission with equivalent responses,
 * fragmentation over a small MTU, configuration sequence checks.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createSigner } from '../../src-main/reload/crypto';
import { VirtualClock } from '../../src-main/reload/clock';
import { MemoryNetwork, type LinkConditions } from '../../src-main/reload/link/memory/memory-network';
import type { Link } from '../../src-main/reload/link/link';
import {
  answerPing,
  answerProbe,
  ErrorResponseError,
  LinkTable,
  MessageTransport,
  StaticTopology,
  type IncomingRequest,
} from '../../src-main/reload/transport';
import { bytesEqual, ErrorCode, toHex, type Body } from '../../src-main/reload/wire';
import { memoryLogger } from '../support/fixtures';
import { makeNodes, type TestNodes } from '../support/node-identities';

let ids: TestNodes;
const RESOURCE = Uint8Array.from({ length: 16 }, (_, i) => 0xf0 | (i & 0x0f));

beforeAll(async () => {
  ids = await makeNodes(4);
});

interface Net {
  clock: VirtualClock;
  transports: MessageTransport[];
  links: Link[][]; // links[i][j]: node i's link to node j
  served: IncomingRequest[][];
}

function line(options: { conditions?: LinkConditions; mtu?: number; ttl?: number[]; sequences?: number[] } = {}): Net {
  const clock = new VirtualClock();
  const net = new MemoryNetwork(
    clock,
    options.conditions ?? { latencyMs: 5, jitterMs: 0, loss: 0, bandwidth: 0 },
    42,
    options.mtu ?? 5000,
  );
  const nodes = ids.nodes;
  const index = (id: Uint8Array) => nodes.findIndex((n) => bytesEqual(n.nodeId, id));
  const endpoints = nodes.map((n, i) => net.endpoint(`n${i}`, n.identity));
  const served: IncomingRequest[][] = nodes.map(() => []);
  const transports = nodes.map(
    (n, i) =>
      new MessageTransport({
        nodeId: n.nodeId,
        overlay: 0x1234,
        configSequence: options.sequences?.[i] ?? 1,
        initialTtl: options.ttl?.[i] ?? 100,
        reliabilityTimerMs: 3000,
        maxMessageSize: 5000,
        nodeIdLength: 16,
        signer: createSigner({ privateKey: n.privateKey, certificate: n.certificate }),
        policy: ids.policy,
        topology: new StaticTopology(
          (id) => bytesEqual(id, n.nodeId) || (i === 3 && bytesEqual(id, RESOURCE)),
          (id) => {
            const target = index(id);
            const towards = target === -1 ? 3 : target; // the resource lives at D
            return towards > i ? nodes[i + 1]?.nodeId : towards < i ? nodes[i - 1]?.nodeId : undefined;
          },
        ),
        clock,
        log: memoryLogger().log,
      }),
  );
  transports.forEach((t, i) =>
    t.handle((req) => {
      served[i]!.push(req);
      if (req.body.method === 'ping_req')
        return { method: 'ping_ans', value: { responseId: BigInt(i), time: 0n } } satisfies Body;
      throw new Error('unexpected');
    }),
  );
  const links: Link[][] = nodes.map(() => []);
  endpoints.forEach((e, i) =>
    e.onLink((l) => (links[i]![nodes.findIndex((n) => bytesEqual(n.nodeId, l.peer.nodeIds[0]!))] = l)),
  );
  endpoints.forEach((e, i) => e.onLink((l) => transports[i]!.addLink(l)));
  for (let i = 0; i < nodes.length - 1; i++) {
    void endpoints[i]!.connect(`n${i + 1}`).then((l) => {
      links[i]![i + 1] = l;
      transports[i]!.addLink(l);
    });
  }
  return { clock, transports, links, served };
}

async function run<T>(net: Net, promise: Promise<T>, maxMs = 60_000): Promise<T> {
  let done = false;
  promise.then(
    () => (done = true),
    () => (done = true),
  );
  for (let t = 0; t < maxMs && !done; t += 10) {
    net.clock.advance(10);
    await Promise.resolve();
  }
  return promise;
}

const ping = (padding = 0): Body => ({ method: 'ping_req', value: { padding: new Uint8Array(padding) } });

describe('message transport', () => {
  it('routes a request A→D hop by hop and the response back along the reversed via list', async () => {
    const net = line();
    await run(net, Promise.resolve());
    const { body, message } = await run(
      net,
      net.transports[0]!.request([{ type: 'node', id: ids.nodes[3]!.nodeId }], ping()),
    );
    expect(body).toEqual({ method: 'ping_ans', value: { responseId: 3n, time: 0n } });
    const seen = net.served[3]![0]!;
    expect(seen.message.header.viaList.map((d) => (d.type === 'node' ? toHex(d.id) : d.type))).toEqual(
      [0, 1].map((i) => toHex(ids.nodes[i]!.nodeId)),
    ); // D's own previous hop (C) is the link, not the via list
    expect(toHex(seen.from.nodeIds[0]!)).toBe(toHex(ids.nodes[0]!.nodeId));
    expect(message.header.ttl).toBeLessThan(100);
    expect(net.transports[1]!.counters.forwarded).toBe(2); // the request and the response
  });

  it('delivers to the node responsible for a Resource-ID', async () => {
    const net = line();
    await run(net, Promise.resolve());
    const { body } = await run(net, net.transports[0]!.request([{ type: 'resource', id: RESOURCE }], ping()));
    expect(body.method).toBe('ping_ans');
    expect(net.served[3]).toHaveLength(1);
  });

  it('answers a request naming a node twice in its destination list with Error_Invalid_Message', async () => {
    const net = line();
    await run(net, Promise.resolve());
    const b = { type: 'node' as const, id: ids.nodes[1]!.nodeId };
    const c = { type: 'node' as const, id: ids.nodes[2]!.nodeId };
    const failure = await run(net, net.transports[0]!.request([b, c, b], ping())).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ErrorResponseError);
    expect((failure as ErrorResponseError).errorCode).toBe(ErrorCode.Invalid_Message);
    expect(net.transports[1]!.counters.dropped['duplicate-destination']).toBe(1);
  });

  it('never forwards a message whose TTL reached 0, and answers Error_TTL_Exceeded', async () => {
    // initial-ttl 1 everywhere: B forwards with TTL 0, so C must not forward to D.
    const net = line({ ttl: [1, 1, 1, 1] });
    await run(net, Promise.resolve());
    const failure = await run(
      net,
      net.transports[0]!.request([{ type: 'node', id: ids.nodes[3]!.nodeId }], ping()),
    ).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ErrorResponseError);
    expect((failure as ErrorResponseError).errorCode).toBe(ErrorCode.TTL_Exceeded);
    expect(net.transports[3]!.counters.messagesIn).toBe(0);
    expect(net.transports[2]!.counters.dropped['ttl-exceeded']).toBe(1);
  });

  it('drops a message whose signature does not verify, at the destination only', async () => {
    const net = line();
    await run(net, Promise.resolve());
    // C forges: a ping signed by C, then altered on the way to D.
    const link = net.links[2]![3]!;
    const original = link.send.bind(link);
    link.send = async (bytes: Uint8Array) => {
      const copy = bytes.slice();
      copy[copy.length - 90] = (copy[copy.length - 90] as number) ^ 1;
      return original(copy);
    };
    const pending = net.transports[2]!.request([{ type: 'node', id: ids.nodes[3]!.nodeId }], ping(8));
    void pending.catch(() => undefined);
    net.clock.advance(100);
    await Promise.resolve();
    expect(net.transports[3]!.counters.dropped.signature).toBeGreaterThanOrEqual(1);
    expect(net.served[3]).toHaveLength(0);
  });

  it('retransmits with the same transaction id over a lossy network; the handler runs once per transaction', async () => {
    const net = line({ conditions: { latencyMs: 5, jitterMs: 0, loss: 0.1, bandwidth: 0 } });
    await run(net, Promise.resolve());
    let ok = 0;
    for (let i = 0; i < 10; i++) {
      const result = await run(
        net,
        net.transports[0]!.request([{ type: 'node', id: ids.nodes[3]!.nodeId }], ping()).catch(() => undefined),
      );
      if (result) ok++;
    }
    expect(ok).toBeGreaterThanOrEqual(9);
    expect(net.transports[0]!.counters.retransmissions).toBeGreaterThan(0);
    const perTransaction = new Map<bigint, number>();
    for (const r of net.served[3]!)
      perTransaction.set(r.message.header.transactionId, (perTransaction.get(r.message.header.transactionId) ?? 0) + 1);
    expect([...perTransaction.values()].every((n) => n === 1)).toBe(true);
  });

  it('fragments over links with a small MTU and reassembles at the destination', async () => {
    const net = line({ mtu: 700 });
    await run(net, Promise.resolve());
    const { body } = await run(
      net,
      net.transports[0]!.request([{ type: 'node', id: ids.nodes[3]!.nodeId }], ping(2000)),
    );
    expect(body.method).toBe('ping_ans');
    expect(net.served[3]![0]!.body).toEqual(ping(2000));
    expect(net.transports[0]!.counters.messagesOut).toBeGreaterThan(3);
  });

  it('answers a request with a stale configuration sequence with Error_Config_Too_Old', async () => {
    const net = line({ sequences: [1, 1, 1, 2] });
    await run(net, Promise.resolve());
    const failure = await run(
      net,
      net.transports[0]!.request([{ type: 'node', id: ids.nodes[3]!.nodeId }], ping()),
    ).catch((e: unknown) => e);
    expect((failure as ErrorResponseError).errorCode).toBe(ErrorCode.Config_Too_Old);
    expect(net.served[3]).toHaveLength(0);
  });
});

describe('link table, Ping and Probe', () => {
  it('answers Ping with a random id and the time, and Probe with the requested items in order', () => {
    const pong = answerPing(1_700_000_000_123);
    expect(pong).toMatchObject({ method: 'ping_ans', value: { time: 1_700_000_000_123n } });
    const probe = answerProbe([3, 9, 1], {
      responsibleSetPpb: () => 250_000_000,
      storedResources: () => 3,
      uptimeSeconds: () => 42.7,
    });
    expect(probe).toEqual({
      method: 'probe_ans',
      value: {
        probeInfo: [
          { type: 'uptime', value: 42 },
          { type: 'responsible_set', value: 250_000_000 },
        ],
      },
    });
  });

  it('limits the number of links, closes idle ones and reports each link', async () => {
    const clock = new VirtualClock();
    const net = new MemoryNetwork(clock, { latencyMs: 1, jitterMs: 0, loss: 0, bandwidth: 0 });
    const [a, ...others] = ids.nodes;
    const ea = net.endpoint('a', a!.identity);
    const transport = new MessageTransport({
      nodeId: a!.nodeId,
      overlay: 1,
      configSequence: 1,
      initialTtl: 100,
      reliabilityTimerMs: 3000,
      maxMessageSize: 5000,
      nodeIdLength: 16,
      signer: createSigner({ privateKey: a!.privateKey, certificate: a!.certificate }),
      policy: ids.policy,
      topology: new StaticTopology(
        () => false,
        () => undefined,
      ),
      clock,
      log: memoryLogger().log,
    });
    const table = new LinkTable(transport, { maxLinks: 2, idleTimeoutMs: 10_000, clock });
    const links: Link[] = [];
    for (const [i, n] of others.entries()) {
      net.endpoint(`o${i}`, n.identity);
      const link = await ea.connect(`o${i}`);
      links.push(link);
      table.add(link);
      clock.advance(1000);
    }
    expect(table.size).toBe(2);
    expect(links[0]!.closed).toBe(true); // the idlest made room
    await links[2]!.send(new Uint8Array(1));
    clock.advance(6000);
    await links[2]!.send(new Uint8Array(1));
    clock.advance(6000);
    const status = table.status();
    expect(status.map((s) => s.nodeIds[0])).toEqual([toHex(others[2]!.nodeId)]); // the silent one was closed as idle
    expect(status[0]).toMatchObject({
      type: 'MEMORY',
      userName: 'node3@links.example.org',
      stats: { messagesSent: 2 },
    });
    await table.close();
  });
});
