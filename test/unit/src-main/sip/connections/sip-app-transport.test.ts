/**
 * SipAppTransport over real AppConnections of the in-memory network (MemoryAppConnection, the flows of
 * the overlay simulation) on a virtual clock: stream framing across chunk boundaries, RFC 5626 CRLF
 * keepalive (ping, pong, a dead peer closed), datagram framing with its size limit.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../../../src-main/reload/clock';
import type { Link } from '../../../../../src-main/reload/link/link';
import { MemoryNetwork } from '../../../../../src-main/reload/link/memory/memory-network';
import { MemoryAppConnection, type AppFraming } from '../../../../../src-main/reload/transport';
import { SipAppTransport } from '../../../../../src-main/sip/connections/sip-app-transport';
import { SipConnectionClosedError } from '../../../../../src-main/sip/connections/errors';
import { SipMessageTooLargeError } from '../../../../../src-main/sip/message/errors';
import { makeNodes, type TestNodes } from '../../../../support/node-identities';

const text = new TextEncoder();
const untext = new TextDecoder();
const OPTIONS =
  'OPTIONS sip:bob@links.example.org SIP/2.0\r\nVia: SIP/2.0/TLS a.invalid;branch=z9hG4bK1\r\nCSeq: 1 OPTIONS\r\n' +
  'Content-Length: 0\r\n\r\n';
const MESSAGE = 'MESSAGE sip:bob@links.example.org SIP/2.0\r\nContent-Length: 11\r\n\r\nhello\r\n\r\nyo';

let ids: TestNodes;
beforeAll(async () => {
  ids = await makeNodes(2);
});

/** Two ends of one AppAttach-style flow between node0 (requester) and node1 (answerer). */
async function flow(framing: AppFraming) {
  const clock = new VirtualClock();
  const network = new MemoryNetwork(clock, { latencyMs: 5, jitterMs: 0, loss: 0, bandwidth: 0 });
  const [x, y] = ids.nodes as [(typeof ids.nodes)[0], (typeof ids.nodes)[0]];
  const listener = network.endpoint('10.0.0.2:10000', y.identity);
  const accepted: Link[] = [];
  listener.onLink((link) => accepted.push(link));
  const dialer = network.endpoint('10.0.0.1:10000', x.identity);
  const out = await dialer.connect('10.0.0.2:10000', y.nodeId);
  const requester = new MemoryAppConnection(
    out,
    { applicationId: 5060, role: 'requester', peerNodeId: y.nodeId },
    framing,
  );
  const answerer = new MemoryAppConnection(
    accepted[0]!,
    { applicationId: 5060, role: 'answerer', peerNodeId: x.nodeId },
    framing,
  );
  const run = async (ms: number) => {
    for (let t = 0; t < ms; t += 5) {
      clock.advance(5);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  };
  return { clock, requester, answerer, run, x, y };
}

function inbox(transport: SipAppTransport): string[] {
  const messages: string[] = [];
  transport.onMessage((m) => messages.push(m));
  return messages;
}

describe('SipAppTransport on a stream flow', () => {
  it('frames messages split across chunks and several in one chunk; names the party by its certificate', async () => {
    const { clock, requester, answerer, run, x } = await flow('stream');
    const sip = new SipAppTransport(answerer, 'inbound', { clock });
    expect(sip.protocol).toBe('TLS');
    expect(sip.framing).toBe('stream');
    expect(sip.party).toEqual({ kind: 'overlay', nodeId: x.nodeId, user: 'node0@links.example.org' });
    const got = inbox(sip);
    const stream = text.encode(OPTIONS + MESSAGE + OPTIONS);
    for (const [from, to] of [
      [0, 7],
      [7, 60],
      [60, OPTIONS.length + 50],
      [OPTIONS.length + 50, stream.length - 3],
      [stream.length - 3, stream.length],
    ] as const)
      await requester.send(stream.subarray(from, to));
    await run(50);
    expect(got).toEqual([OPTIONS, MESSAGE, OPTIONS]);
    expect(sip.messagesIn).toBe(3);
    expect(sip.bytesIn).toBe(stream.length);
  });

  it('closes a stream that cannot be framed (no Content-Length)', async () => {
    const { clock, requester, answerer, run } = await flow('stream');
    const sip = new SipAppTransport(answerer, 'inbound', { clock });
    const reasons: string[] = [];
    sip.onClose((r) => reasons.push(r));
    await requester.send(text.encode('OPTIONS sip:x SIP/2.0\r\nVia: x\r\n\r\n'));
    await run(50);
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toMatch(/^framing: .*Content-Length/);
    expect(answerer.closed).toBe(true);
    await expect(sip.send(OPTIONS)).rejects.toBeInstanceOf(SipConnectionClosedError);
  });

  it('closes a stream announcing a message over maxMessageBytes, before buffering it', async () => {
    const { clock, requester, answerer, run } = await flow('stream');
    const sip = new SipAppTransport(answerer, 'inbound', { clock, maxMessageBytes: 1_000 });
    const reasons: string[] = [];
    sip.onClose((r) => reasons.push(r));
    await requester.send(text.encode('MESSAGE sip:x SIP/2.0\r\nContent-Length: 5000\r\n\r\nabc'));
    await run(50);
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toMatch(/^framing: .*limit 1000/);
    expect(answerer.closed).toBe(true);
  });

  it('pings an idle stream with CRLFCRLF and is answered with CRLF; both stay open (RFC 5626 §3.5.1)', async () => {
    const { clock, requester, answerer, run } = await flow('stream');
    const options = { clock, keepaliveIntervalMs: 1_000, pongTimeoutMs: 500 };
    const a = new SipAppTransport(requester, 'outbound', options);
    const b = new SipAppTransport(answerer, 'inbound', options);
    const got = inbox(b);
    await run(5_000);
    expect(a.closed).toBe(false);
    expect(b.closed).toBe(false);
    expect(a.pingsSent + b.pingsSent).toBeGreaterThanOrEqual(4);
    expect(a.pongsSent + b.pongsSent).toBeGreaterThanOrEqual(4);
    expect(got).toEqual([]); // keepalives are no messages
    // Traffic holds the pings back: a message every 500 ms leaves nothing idle for 1 s.
    const pings = a.pingsSent + b.pingsSent;
    for (let i = 0; i < 8; i++) {
      await a.send(OPTIONS);
      await b.send(OPTIONS);
      await run(500);
    }
    expect(a.pingsSent + b.pingsSent).toBe(pings);
    expect(got).toHaveLength(8);
  });

  it('closes a stream whose peer never answers a ping', async () => {
    const { clock, requester, answerer, run } = await flow('stream');
    const a = new SipAppTransport(requester, 'outbound', { clock, keepaliveIntervalMs: 1_000, pongTimeoutMs: 500 });
    const raw: string[] = [];
    answerer.onData((bytes) => raw.push(untext.decode(bytes))); // a peer that reads but never pongs
    const reasons: string[] = [];
    let closedAt = 0;
    a.onClose((r) => {
      reasons.push(r);
      closedAt = clock.now();
    });
    const start = clock.now();
    await run(1_400);
    expect(reasons).toEqual([]);
    expect(raw).toEqual(['\r\n\r\n']);
    await run(200);
    expect(reasons).toEqual(['keepalive: no pong within 500 ms']);
    expect(closedAt - start).toBe(1_500); // idle 1 s, then 500 ms without a pong
    expect(requester.closed).toBe(true);
  });
});

describe('SipAppTransport on a datagram flow', () => {
  it('carries one message per datagram, ignores CRLF keepalive datagrams, refuses messages over the datagram size', async () => {
    const { clock, requester, answerer, run } = await flow('datagram');
    const a = new SipAppTransport(requester, 'outbound', { clock });
    const b = new SipAppTransport(answerer, 'inbound', { clock });
    expect(a.protocol).toBe('DTLS');
    const got = inbox(b);
    await a.send(MESSAGE);
    await requester.send(text.encode('\r\n\r\n'));
    await a.send(OPTIONS);
    await run(50);
    expect(got).toEqual([MESSAGE, OPTIONS]);
    const limit = requester.maxDatagramSize!;
    const big = `MESSAGE sip:b@x SIP/2.0\r\nContent-Length: ${limit}\r\n\r\n${'x'.repeat(limit)}`;
    const error = await a.send(big).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SipMessageTooLargeError);
    expect(error).toMatchObject({ field: 'message', limit });
    expect(a.closed).toBe(false);
    // No keepalive of ours on datagrams: liveness is the ICE layer's consent checks.
    const raw: number[] = [];
    answerer.onData((bytes) => raw.push(bytes.length));
    await run(4_000);
    expect(a.pingsSent).toBe(0);
    expect(raw).toEqual([]);
  });
});
