/**
 * AppAttach (RFC 6940 §6.5.2) in the overlay simulation: ReloadNodes on the in-memory network, flows from
 * NoIceAppAttach over MemoryAppFlows. An AppAttach is routed over several hops to a Node-ID or to the peer
 * responsible for a Resource-ID; the flow carries the application's bytes both ways, is no RELOAD link,
 * closes on both sides, and an Application-ID without a handler comes back as AppAttachNotSupportedError.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { OverlaySimulation, type SimNode } from '../../../../../src-main/reload/sim';
import {
  AppAttachArgumentError,
  AppAttachNotSupportedError,
  AppAttachService,
  AppAttachTimeoutError,
  type ErrorResponseError,
  type AppAttachStrategy,
  AppConnectionClosedError,
  AppMessageTooLargeError,
  type AppConnection,
  type AppConnectionCloseReason,
} from '../../../../../src-main/reload/transport';
import { ErrorCode, OverlayLinkType, toHex, type IceCandidate } from '../../../../../src-main/reload/wire';
import { toIpAddressPort } from '../../../../../src-main/reload/link/ip-address';

const SIP = 5060;
const text = new TextEncoder();
const untext = new TextDecoder();
const OPTIONS = 'OPTIONS sip:bob@sim.example.org SIP/2.0\r\nVia: SIP/2.0/TLS a.invalid\r\nContent-Length: 0\r\n\r\n';
const tlsCandidate: IceCandidate = {
  addrPort: toIpAddressPort('10.9.9.9', 1),
  overlayLink: OverlayLinkType['TLS-TCP-FH-NO-ICE'],
  foundation: text.encode('1'),
  priority: 1,
  type: 'host',
  extensions: [],
};
const OK = 'SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n';

function received(connection: AppConnection): string[] {
  const messages: string[] = [];
  connection.onData((bytes) => messages.push(untext.decode(bytes)));
  return messages;
}

function closes(connection: AppConnection): AppConnectionCloseReason[] {
  const reasons: AppConnectionCloseReason[] = [];
  connection.onClose((reason) => reasons.push(reason));
  return reasons;
}

const forwardedTotal = (sim: OverlaySimulation) =>
  sim.nodes.reduce((sum, n) => sum + n.node.transport.counters.forwarded, 0);

describe('AppAttach over memory links (overlay simulation)', () => {
  let sim: OverlaySimulation;
  let a: SimNode;
  let b: SimNode;
  const incoming = new Map<string, AppConnection[]>();

  beforeAll(async () => {
    sim = await OverlaySimulation.create({ nodes: 20, seed: 21 });
    for (let i = 0; i < 20; i++) await sim.start(i);
    await sim.run(2_000);
    expect(sim.ringErrors()).toEqual([]);
    // Every node supports SIP; each keeps what it gets.
    for (const n of sim.nodes) {
      const mine: AppConnection[] = [];
      incoming.set(toHex(n.node.nodeId), mine);
      n.node.onAppAttach(SIP, (connection) => mine.push(connection));
    }
    // Two nodes with no link between them: the AppAttach has to be forwarded.
    const pair = sim.nodes
      .flatMap((x) => sim.nodes.map((y) => [x, y] as const))
      .find(([x, y]) => x !== y && !x.node.transport.linkTo(y.node.nodeId));
    expect(pair).toBeDefined();
    [a, b] = pair as unknown as [SimNode, SimNode];
  }, 120_000);

  it('routes an AppAttach to a Node-ID over several hops; the flow carries bytes both ways and is no link', async () => {
    const forwarded = forwardedTotal(sim);
    const connection = await sim.until(a.node.appAttach(b.node.nodeId, SIP));
    expect(forwardedTotal(sim) - forwarded).toBeGreaterThanOrEqual(2); // request and answer, each forwarded
    expect(connection.applicationId).toBe(SIP);
    expect(connection.role).toBe('requester');
    expect(connection.framing).toBe('datagram');
    expect(toHex(connection.peerNodeId)).toBe(toHex(b.node.nodeId));
    expect(connection.peer.nodeIds.map(toHex)).toContain(toHex(b.node.nodeId));
    expect(connection.peerCertificate.length).toBeGreaterThan(0);
    await sim.run(100);
    const other = incoming.get(toHex(b.node.nodeId))!.at(-1)!;
    expect(other.role).toBe('answerer');
    expect(toHex(other.peerNodeId)).toBe(toHex(a.node.nodeId));
    // Not a RELOAD link: the connection table knows nothing of it.
    expect(a.node.transport.linkTo(b.node.nodeId)).toBeUndefined();

    const atB = received(other);
    const atA = received(connection);
    await connection.send(text.encode(OPTIONS));
    await sim.run(100);
    expect(atB).toEqual([OPTIONS]);
    await other.send(text.encode(OK));
    await sim.run(100);
    expect(atA).toEqual([OK]);
    await expect(connection.send(new Uint8Array(connection.maxDatagramSize! + 1))).rejects.toBeInstanceOf(
      AppMessageTooLargeError,
    );

    // Closing one side closes the other.
    const closedAtB = closes(other);
    await connection.close();
    await sim.run(100);
    expect(connection.closeReason).toBe('local');
    expect(closedAtB).toEqual(['remote']);
    await expect(connection.send(text.encode(OPTIONS))).rejects.toBeInstanceOf(AppConnectionClosedError);
    await expect(other.send(text.encode(OK))).rejects.toBeInstanceOf(AppConnectionClosedError);
  }, 60_000);

  it('keeps what arrives before the handler subscribes, in order', async () => {
    const connection = await sim.until(a.node.appAttach(b.node.nodeId, SIP));
    for (const n of [1, 2, 3]) await connection.send(text.encode(`message ${n}`));
    await sim.run(100);
    const other = incoming.get(toHex(b.node.nodeId))!.at(-1)!;
    const got = received(other); // subscribes only now
    expect(got).toEqual([]);
    await Promise.resolve();
    expect(got).toEqual(['message 1', 'message 2', 'message 3']);
    await connection.close();
    await sim.run(100);
  }, 60_000);

  it('reaches the peer responsible for a Resource-ID', async () => {
    const resource = Uint8Array.from({ length: 16 }, () => Math.floor(sim.random() * 256));
    const responsible = sim.responsibleFor(resource)!;
    const from = sim.nodes.find((n) => n !== responsible)!;
    const connection = await sim.until(from.node.appAttach({ resource }, SIP));
    expect(toHex(connection.peerNodeId)).toBe(toHex(responsible.node.nodeId));
    await sim.run(100);
    const other = incoming.get(toHex(responsible.node.nodeId))!.at(-1)!;
    expect(toHex(other.peerNodeId)).toBe(toHex(from.node.nodeId));
    const got = received(other);
    await connection.send(text.encode(OPTIONS));
    await sim.run(100);
    expect(got).toEqual([OPTIONS]);
    await other.close();
    await sim.run(100);
    expect(connection.closed).toBe(true);
  }, 60_000);

  it('follows a destination list: [c, b] goes to c first, then to b, which answers and owns the flow', async () => {
    const c = sim.nodes.find((n) => n !== a && n !== b && a.node.transport.linkTo(n.node.nodeId))!;
    expect(c).toBeDefined();
    const viaC = c.node.transport.counters.forwarded;
    const route = [
      { type: 'node', id: c.node.nodeId },
      { type: 'node', id: b.node.nodeId },
    ] as const;
    const connection = await sim.until(a.node.appAttach({ route }, SIP));
    expect(c.node.transport.counters.forwarded).toBeGreaterThan(viaC); // c passed it on
    expect(toHex(connection.peerNodeId)).toBe(toHex(b.node.nodeId));
    await sim.run(100);
    const other = incoming.get(toHex(b.node.nodeId))!.at(-1)!;
    expect(toHex(other.peerNodeId)).toBe(toHex(a.node.nodeId));
    const got = received(other);
    await connection.send(text.encode(OPTIONS));
    await sim.run(100);
    expect(got).toEqual([OPTIONS]);
    await connection.close();
    await sim.run(100);
    // A one-entry route is the plain form.
    const plain = await sim.until(a.node.appAttach({ route: [route[1]] }, SIP));
    expect(toHex(plain.peerNodeId)).toBe(toHex(b.node.nodeId));
    await plain.close();
    await sim.run(100);
  }, 60_000);

  it('an Application-ID without a handler is answered Error_Not_Found: AppAttachNotSupportedError', async () => {
    const failure = await sim.until(a.node.appAttach(b.node.nodeId, 4242)).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(AppAttachNotSupportedError);
    expect((failure as AppAttachNotSupportedError).applicationId).toBe(4242);
    expect((failure as AppAttachNotSupportedError).cause.errorCode).toBe(ErrorCode.Not_Found);
    // Withdrawing the handler withdraws the support.
    const withdraw = b.node.onAppAttach(5061, () => undefined);
    const ok = await sim.until(a.node.appAttach(b.node.nodeId, 5061));
    await ok.close();
    withdraw();
    await expect(sim.until(a.node.appAttach(b.node.nodeId, 5061))).rejects.toBeInstanceOf(AppAttachNotSupportedError);
  }, 60_000);

  it('refuses bad input with AppAttachArgumentError naming the field', async () => {
    const field = async (p: Promise<unknown> | (() => unknown)) => {
      try {
        await (typeof p === 'function' ? p() : p);
      } catch (error) {
        expect(error).toBeInstanceOf(AppAttachArgumentError);
        return (error as AppAttachArgumentError).field;
      }
      throw new Error('no error');
    };
    expect(await field(a.node.appAttach(b.node.nodeId, 0))).toBe('applicationId');
    expect(await field(a.node.appAttach(b.node.nodeId, 65535))).toBe('applicationId');
    expect(await field(a.node.appAttach(b.node.nodeId, 50.5))).toBe('applicationId');
    expect(await field(a.node.appAttach(new Uint8Array(3), SIP))).toBe('destination');
    expect(await field(a.node.appAttach(a.node.nodeId, SIP))).toBe('destination');
    expect(await field(a.node.appAttach({ resource: 'x' as unknown as Uint8Array }, SIP))).toBe('destination');
    expect(await field(a.node.appAttach(b.node.nodeId, SIP, { connectTimeoutMs: -1 }))).toBe('connectTimeoutMs');
    const node = (id: Uint8Array) => ({ type: 'node', id }) as const;
    expect(await field(a.node.appAttach({ route: [] }, SIP))).toBe('destination');
    expect(await field(a.node.appAttach({ route: Array.from({ length: 17 }, () => node(b.node.nodeId)) }, SIP))).toBe(
      'destination',
    );
    expect(await field(a.node.appAttach({ route: [node(b.node.nodeId), node(a.node.nodeId)] }, SIP))).toBe(
      'destination',
    );
    expect(
      await field(a.node.appAttach({ route: [{ type: 'opaque', id: new Uint8Array(0) }, node(b.node.nodeId)] }, SIP)),
    ).toBe('destination');
    expect(await field(a.node.appAttach({ route: 'x' as unknown as [] }, SIP))).toBe('destination');
    expect(await field(() => a.node.onAppAttach(SIP, () => undefined))).toBe('applicationId'); // already handled
    expect(await field(() => a.node.onAppAttach(7, 'no' as unknown as () => void))).toBe('handler');
  });

  it('answers a request that is not "passive", or offers no usable candidate, with an error', async () => {
    const ask = (role: string, candidates: boolean) =>
      sim
        .until(
          a.node.transport.request([{ type: 'node', id: b.node.nodeId }], {
            method: 'app_attach_req',
            value: {
              ufrag: text.encode('u'),
              password: text.encode('p'),
              application: SIP,
              role: text.encode(role),
              candidates: candidates ? [tlsCandidate] : [],
            },
          }),
        )
        .then(
          () => {
            throw new Error('answered without an error');
          },
          (e: unknown) => e as ErrorResponseError,
        );
    expect((await ask('active', true)).errorCode).toBe(ErrorCode.Invalid_Message);
    expect((await ask('passive', false)).errorCode).toBe(ErrorCode.Incompatible_with_Overlay);
  }, 60_000);

  it('gives up with AppAttachTimeoutError when the answerer never connects', async () => {
    const silent = sim.nodes.find((n) => n !== a && n !== b && n.alive)!;
    // The silent node answers every AppAttach but never connects back.
    const never: AppAttachStrategy = {
      name: 'silent',
      offer: () => Promise.reject(new Error('unused')),
      answer: async (request) => ({
        answer: { ...request, role: text.encode('active'), candidates: [] },
        connection: new Promise<AppConnection>(() => undefined),
      }),
      close: async () => undefined,
    };
    const service = new AppAttachService({
      transport: silent.node.transport,
      router: silent.node.router,
      nodeId: silent.node.nodeId,
      nodeIdLength: 16,
      strategy: never,
      clock: sim.clock,
    });
    service.onAppAttach(SIP, () => undefined);
    const started = sim.clock.now();
    const failure = await sim
      .until(a.node.appAttach(silent.node.nodeId, SIP, { connectTimeoutMs: 4_000 }))
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(AppAttachTimeoutError);
    expect((failure as AppAttachTimeoutError).phase).toBe('connection');
    expect(sim.clock.now() - started).toBeLessThan(6_000);
  }, 60_000);

  it("a node's death closes its flows at the other end", async () => {
    const victim = sim.nodes.filter((n) => n !== a && n !== b && n.alive).at(-1)!;
    const connection = await sim.until(a.node.appAttach(victim.node.nodeId, SIP));
    const closed = closes(connection);
    await sim.kill(victim.index);
    await sim.run(200);
    expect(closed).toEqual(['remote']);
  }, 60_000);
});
