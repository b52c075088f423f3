/**
 * AppAttach over real sockets on loopback, in both overlay modes: ICE (each AppAttach runs its own ICE
 * agent, then DTLS over the selected pair: datagrams) and No-ICE (the answerer connects back to the
 * requester's one-flow TLS listener: a byte stream). A and C bootstrap through B; A's AppAttach to C goes
 * through B; a SIP OPTIONS and its 200 OK cross the flow. Both sides insist on the certificate of the node
 * that signed the AppAttach exchange: a flow presenting another (CA-issued, valid) identity is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { realClock } from '../../src-main/reload/clock';
import { PeerRejectedError } from '../../src-main/reload/link/link';
import {
  AppAttachNotSupportedError,
  AppAttachService,
  AppConnectionClosedError,
  IceDtlsAppAttach,
  NoIceAppAttach,
  TlsAppFlows,
  type AppAttachStrategy,
  type AppConnection,
  type BootstrapAddress,
} from '../../src-main/reload/transport';
import { toHex } from '../../src-main/reload/wire';
import { attachOverlay, joinThrough, type OverlayNode } from '../support/attach-overlay';
import { makeNodes, type TestNode, type TestNodes } from '../support/node-identities';

const SIP = 5060;
const text = new TextEncoder();
const untext = new TextDecoder();
const OPTIONS =
  'OPTIONS sip:carol@links.example.org SIP/2.0\r\nVia: SIP/2.0/TLS a.invalid;branch=z9hG4bK1\r\n' +
  'Max-Forwards: 70\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n';
const OK =
  'SIP/2.0 200 OK\r\nVia: SIP/2.0/TLS a.invalid;branch=z9hG4bK1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function until(condition: () => boolean, what: string, ms = 10_000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(20)) if (condition()) return;
  throw new Error(`timed out waiting for ${what}`);
}

/** Everything that arrived, as text (datagrams joined; a stream's chunks are joined anyway). */
function inbox(connection: AppConnection): { text: () => string; count: () => number } {
  const chunks: Uint8Array[] = [];
  connection.onData((bytes) => chunks.push(bytes));
  return { text: () => chunks.map((c) => untext.decode(c)).join(''), count: () => chunks.length };
}

interface Apps {
  service: AppAttachService;
  incoming: AppConnection[];
  failures: Error[];
}

describe.each(['ice', 'no-ice'] as const)('AppAttach over real sockets (%s)', (mode) => {
  let ids: TestNodes;
  let impostor: TestNode;
  let overlay: Awaited<ReturnType<typeof attachOverlay>>;
  let a: OverlayNode, b: OverlayNode, c: OverlayNode;
  const strategies: AppAttachStrategy[] = [];

  /** An AppAttach strategy for `node`'s transport; `as` changes whose certificate its flows present. */
  function strategyFor(as: TestNode): AppAttachStrategy {
    const credentials = { privateKey: as.privateKey, certificates: [as.certificate], policy: ids.policy };
    const strategy =
      mode === 'ice'
        ? new IceDtlsAppAttach({
            ...credentials,
            clock: realClock,
            hostAddresses: ['127.0.0.1'],
            iceTimeoutMs: 8000,
            handshakeTimeoutMs: 5000,
          })
        : new NoIceAppAttach({
            flows: new TlsAppFlows({ ...credentials, host: '127.0.0.1' }),
            clock: realClock,
            connectTimeoutMs: 3000,
          });
    strategies.push(strategy);
    return strategy;
  }

  /** (Re)places the AppAttach service on a node's router, SIP supported. */
  function apps(node: OverlayNode, as: TestNode = node.node): Apps {
    const incoming: AppConnection[] = [];
    const failures: Error[] = [];
    const service = new AppAttachService({
      transport: node.transport,
      router: node.router,
      nodeId: node.node.nodeId,
      nodeIdLength: 16,
      strategy: strategyFor(as),
      clock: realClock,
      connectTimeoutMs: 15_000,
      onAnswerFailed: (e) => failures.push(e.error),
    });
    service.onAppAttach(SIP, (connection) => incoming.push(connection));
    return { service, incoming, failures };
  }

  const join = (n: OverlayNode, addresses: BootstrapAddress[] = [b.endpoint.address]) => joinThrough(n, addresses);

  beforeAll(async () => {
    ids = await makeNodes(4);
    impostor = ids.nodes[3]!;
    overlay = await attachOverlay({ ...ids, nodes: ids.nodes.slice(0, 3) }, mode);
    [a, b, c] = overlay.nodes as [OverlayNode, OverlayNode, OverlayNode];
    await join(a);
    await join(c);
  }, 60_000);

  afterAll(async () => {
    await Promise.all(strategies.map((s) => s.close()));
    await overlay.close();
  });

  it('A opens a flow to C through B; a SIP OPTIONS and its 200 OK cross it; closing reaches the other side', async () => {
    const atA = apps(a);
    const atC = apps(c);
    apps(b);
    expect(a.transport.linkTo(c.node.nodeId)).toBeUndefined();
    const forwarded = b.transport.counters.forwarded;
    const connection = await atA.service.appAttach({ type: 'node', id: c.node.nodeId }, SIP);
    expect(b.transport.counters.forwarded - forwarded).toBeGreaterThanOrEqual(2); // request and answer
    expect(a.transport.linkTo(c.node.nodeId)).toBeUndefined(); // a flow, not a RELOAD link
    expect(connection.framing).toBe(mode === 'ice' ? 'datagram' : 'stream');
    expect(connection.role).toBe('requester');
    expect(toHex(connection.peerNodeId)).toBe(toHex(c.node.nodeId));
    expect(Buffer.from(connection.peerCertificate).equals(Buffer.from(c.node.certificate))).toBe(true);
    await until(() => atC.incoming.length === 1, "C's handler to get the flow");
    const other = atC.incoming[0]!;
    expect(other.role).toBe('answerer');
    expect(other.applicationId).toBe(SIP);
    expect(Buffer.from(other.peerCertificate).equals(Buffer.from(a.node.certificate))).toBe(true);

    const cInbox = inbox(other);
    const aInbox = inbox(connection);
    await connection.send(text.encode(OPTIONS));
    await until(() => cInbox.text() === OPTIONS, 'the OPTIONS at C');
    if (mode === 'ice') expect(cInbox.count()).toBe(1); // one datagram per send
    await other.send(text.encode(OK));
    await until(() => aInbox.text() === OK, 'the 200 OK at A');

    const closedAtA: string[] = [];
    connection.onClose((reason) => closedAtA.push(reason));
    await other.close();
    await until(() => closedAtA.length === 1, 'the close to reach A');
    expect(closedAtA).toEqual(['remote']);
    await expect(connection.send(text.encode(OPTIONS))).rejects.toBeInstanceOf(AppConnectionClosedError);
    expect(atC.failures).toEqual([]);
  }, 40_000);

  it('an Application-ID C does not support is answered Error_Not_Found (AppAttachNotSupportedError)', async () => {
    const atA = apps(a);
    apps(c);
    const failure = await atA.service.appAttach({ type: 'node', id: c.node.nodeId }, 5061).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(AppAttachNotSupportedError);
  });

  it("refuses a flow whose answerer presents another node's certificate", async () => {
    const atA = apps(a);
    const atC = apps(c, impostor); // C signs its answer, but its flows present the impostor's certificate
    const failure = await atA.service.appAttach({ type: 'node', id: c.node.nodeId }, SIP).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(PeerRejectedError);
    // Whatever C's side got (a TLS client may finish its handshake before A hangs up) is closed.
    await sleep(200);
    expect(atC.incoming.every((connection) => connection.closed)).toBe(true);
  }, 30_000);

  it("refuses a flow whose requester presents another node's certificate", async () => {
    const atA = apps(a, impostor); // A signs its AppAttach, but its flows present the impostor's certificate
    const atC = apps(c);
    const outcome = await atA.service
      .appAttach({ type: 'node', id: c.node.nodeId }, SIP)
      .catch((e: unknown) => e as Error);
    await until(() => atC.failures.length === 1, "C's refusal");
    expect(atC.failures[0]).toBeInstanceOf(PeerRejectedError);
    expect(atC.incoming).toEqual([]); // the handler never saw it
    // A (the server) may have finished its side before C checked; C's refusal closes it.
    if (!(outcome instanceof Error)) await until(() => outcome.closed, "A's side to close");
  }, 30_000);
});
