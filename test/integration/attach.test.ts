/**
 * Attach over real sockets on loopback, in both overlay modes: No-ICE (TLS-TCP-FH-NO-ICE, the answerer
 * connects back to the requester's passive candidate) and ICE (DTLS-UDP-SR over the pair ICE selected).
 * A and C bootstrap through B (a direct link, then an Attach to their own Node-ID + 1), then A attaches to C
 * through B and talks to C directly. In both modes the requester ends up as the (D)TLS server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BootstrapFailedError,
  ErrorResponseError,
  type IceDtlsAttach,
  nextId,
  type BootstrapAddress,
} from '../../src-main/reload/transport';
import { bytesEqual, ErrorCode, toHex } from '../../src-main/reload/wire';
import { attachOverlay, joinThrough, type OverlayNode } from '../support/attach-overlay';
import { makeNodes, type TestNodes } from '../support/node-identities';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function until(condition: () => boolean, what: string, ms = 10_000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(20)) if (condition()) return;
  throw new Error(`timed out waiting for ${what}`);
}

async function ping(from: OverlayNode, to: OverlayNode) {
  return from.transport.request([{ type: 'node', id: to.node.nodeId }], {
    method: 'ping_req',
    value: { padding: new Uint8Array(0) },
  });
}

describe.each(['no-ice', 'ice'] as const)('Attach (%s)', (mode) => {
  let ids: TestNodes;
  let overlay: Awaited<ReturnType<typeof attachOverlay>>;
  let a: OverlayNode, b: OverlayNode, c: OverlayNode;
  const linkType = mode === 'ice' ? 'DTLS-UDP-SR' : 'TLS-TCP-FH-NO-ICE';

  const join = (n: OverlayNode, addresses: BootstrapAddress[] = [b.endpoint.address]) => joinThrough(n, addresses);

  beforeAll(async () => {
    ids = await makeNodes(3);
    overlay = await attachOverlay(ids, mode);
    [a, b, c] = overlay.nodes as [OverlayNode, OverlayNode, OverlayNode];
  }, 60_000);

  afterAll(async () => {
    await overlay.close();
  });

  it('bootstraps: a direct link to the bootstrap node, then an Attach to Node-ID + 1 with send_update', async () => {
    for (const n of [a, c]) {
      const result = await join(n);
      expect(result.bootstrapLink.type).toBe(mode === 'ice' ? 'DTLS-UDP-SR-NO-ICE' : 'TLS-TCP-FH-NO-ICE');
      expect(toHex(result.admittingLink.peer.nodeIds[0]!)).toBe(toHex(b.node.nodeId));
      expect(result.admittingLink.type).toBe(linkType);
    }
    // B answered both Attaches and was asked for an Update each time.
    await until(() => b.attached.length === 2, 'B to see both links');
    expect(b.attached.every((e) => e.role === 'answerer' && e.updateRequested)).toBe(true);
    expect(nextId(Uint8Array.of(0x01, 0xff, 0xff))).toEqual(Uint8Array.of(0x02, 0x00, 0x00));
    expect(nextId(Uint8Array.of(0xff, 0xff))).toEqual(Uint8Array.of(0x00, 0x00));
  }, 30_000);

  it('attaches A to C through B; A (the requester) is the server; then they talk directly', async () => {
    expect(a.transport.linkTo(c.node.nodeId)).toBeUndefined();
    const link = await a.attach.attach({ type: 'node', id: c.node.nodeId });
    expect(link.type).toBe(linkType);
    expect(toHex(link.peer.nodeIds[0]!)).toBe(toHex(c.node.nodeId));
    expect(a.transport.linkTo(c.node.nodeId)).toBe(link);
    await until(() => c.transport.linkTo(a.node.nodeId) !== undefined, 'C to hold its side');
    const forwarded = b.transport.counters.forwarded;
    expect((await ping(a, c)).body.method).toBe('ping_ans');
    expect((await ping(c, a)).body.method).toBe('ping_ans');
    expect(b.transport.counters.forwarded).toBe(forwarded); // direct now, B not involved
    // The connection table shows the new link with its type and a measured RTT.
    const row = a.table.transportStatus().links.find((l) => l.nodeIds.includes(toHex(c.node.nodeId)));
    expect(row?.type).toBe(linkType);
    expect(row?.rttMs).toBeGreaterThanOrEqual(0);
    expect(row?.stats.messagesSent).toBeGreaterThan(0);
    expect(await a.attach.attach({ type: 'node', id: c.node.nodeId })).toBe(link); // reused
    const cSide = c.attached.at(-1)!;
    expect(cSide.role).toBe('answerer');
    expect(cSide.updateRequested).toBe(false);
    if (mode === 'ice') {
      expect(a.timings.at(-1)?.role).toBe('requester');
      expect(c.timings.at(-1)?.role).toBe('answerer');
    }
  }, 30_000);

  it('settles glare: both attach at once and each ends with one working link to the other', async () => {
    await a.transport.linkTo(c.node.nodeId)?.close();
    await until(
      () => !a.transport.linkTo(c.node.nodeId) && !c.transport.linkTo(a.node.nodeId),
      'the old link to close on both sides',
    );
    const [fromA, fromC] = await Promise.all([
      a.attach.attach({ type: 'node', id: c.node.nodeId }),
      c.attach.attach({ type: 'node', id: a.node.nodeId }),
    ]);
    expect(bytesEqual(fromA.peer.nodeIds[0]!, c.node.nodeId)).toBe(true);
    expect(bytesEqual(fromC.peer.nodeIds[0]!, a.node.nodeId)).toBe(true);
    expect(a.transport.linkTo(c.node.nodeId)).toBe(fromA);
    expect(c.transport.linkTo(a.node.nodeId)).toBe(fromC);
    expect((await ping(a, c)).body.method).toBe('ping_ans');
    expect((await ping(c, a)).body.method).toBe('ping_ans');
  }, 40_000);

  it('answers an Attach without a usable candidate with Error_Incompatible_with_Overlay', async () => {
    const failure = await a.transport
      .request([{ type: 'node', id: b.node.nodeId }], {
        method: 'attach_req',
        value: {
          ufrag: new Uint8Array(4),
          password: new Uint8Array(8),
          role: new TextEncoder().encode('passive'),
          candidates: [],
          sendUpdate: false,
        },
      })
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ErrorResponseError);
    expect((failure as ErrorResponseError).errorCode).toBe(ErrorCode.Incompatible_with_Overlay);
  });

  if (mode === 'ice') {
    it('keeps the selected pair alive with STUN keepalives, answered end to end', async () => {
      const link = a.transport.linkTo(c.node.nodeId)!;
      const requester = a.strategy as IceDtlsAttach;
      const answerer = c.strategy as IceDtlsAttach;
      const before = requester.keepalive(link)!;
      // werift sends a consent check every 4-6 s (RFC 7675): wait until each side's was sent and answered.
      const answered = () => {
        const mine = requester.keepalive(link)!;
        const theirs = answerer.keepalive(c.transport.linkTo(a.node.nodeId)!)!;
        return (
          mine.keepalivesSent > before.keepalivesSent &&
          mine.responsesReceived > before.responsesReceived &&
          theirs.keepalivesSent > 0 &&
          mine.requestsReceived > before.requestsReceived
        );
      };
      await until(answered, 'keepalives sent and answered both ways', 12_000);
      expect(link.closed).toBe(false);
    }, 20_000);
  } else {
    it('reports every bootstrap address that failed', async () => {
      const failure = await join(a, [{ host: '127.0.0.1', port: 1 }]).catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(BootstrapFailedError);
      expect((failure as Error).message).toContain('127.0.0.1:1');
      expect((failure as BootstrapFailedError).causes).toHaveLength(1);
    });
  }
});
